"""The write path: one function per kind of record; each stores it and its event."""
