"""JSON routers under /api/v1: validate, call a service function, shape the answer."""
