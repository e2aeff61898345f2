"""Password hashing with argon2id (pwdlib's recommended parameters: m=64 MiB, t=3, p=4,
above OWASP's minimum of m=19 MiB, t=2)."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.exceptions import UnknownHashError
from pwdlib.hashers.argon2 import Argon2Hasher


@lru_cache(maxsize=1)
def hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(),))


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash to verify against for unknown users, so they cost the same work."""
    return hasher().hash("not-a-real-password-for-timing-only")


def hash_password(password: str) -> str:
    return hasher().hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    """False for no hash, or one no hasher knows (an account that signs in only through
    the council's identity provider), after the same work as a real check."""
    if password_hash is None:
        hasher().verify(password, dummy_hash())
        return False
    try:
        return hasher().verify(password, password_hash)
    except UnknownHashError:
        hasher().verify(password, dummy_hash())
        return False
