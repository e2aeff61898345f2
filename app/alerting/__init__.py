"""Alerting: routing events to deliveries (the outbox), rendering, SMTP and the dispatcher."""
