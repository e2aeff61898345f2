"""The market a council keeps: localities and their leads, capacity returns, waiting
lists and call-monitoring KPIs, written through one service each."""
