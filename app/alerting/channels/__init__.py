"""Delivery channels beyond SMTP: GOV.UK Notify (email and text messages), and the
choice of channel per delivery (email or sms)."""
