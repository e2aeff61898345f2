"""Users, roles, password hashing, tokens and permissions."""
