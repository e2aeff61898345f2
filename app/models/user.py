"""Users, their roles, and the bearer tokens they hold (stored only as hashes)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
from sqlmodel import Field, SQLModel

from app.models.base import Role, choice, instant

# The password hash of an account that signs in only through the council's identity
# provider: no password verifies against it.
NO_PASSWORD = "!"


class User(SQLModel, table=True):
    __tablename__ = "users"
    # One account per person at the identity provider: (issuer, sub), never the email.
    __table_args__ = (UniqueConstraint("identity_issuer", "identity_subject"),)

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=200)
    role: Role = choice(Role)
    password_hash: str = Field(max_length=255)
    active: bool = True
    # Normalised to +447..., for text messages (routes with channel: sms); optional.
    mobile_number: str | None = Field(default=None, max_length=16)
    created_at: datetime = instant()
    # Set on the first sign-in through the council's OpenID Connect provider.
    identity_issuer: str | None = Field(default=None, max_length=500)
    identity_subject: str | None = Field(default=None, max_length=255)
    # The council directory's id for the account (SCIM externalId), when it provisioned it.
    directory_id: str | None = Field(default=None, max_length=255, unique=True)

    @property
    def source(self) -> str:
        """Where the account comes from: the identity provider's issuer, "directory" (made
        by SCIM, not yet signed in), or "local" (a carewatch password)."""
        if self.identity_issuer:
            return self.identity_issuer
        return "directory" if self.directory_id else "local"


class ApiToken(SQLModel, table=True):
    """A login session or a personal token; only the SHA-256 of the secret is kept."""

    __tablename__ = "api_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id", index=True)
    token_hash: str = Field(max_length=64, unique=True)
    kind: str = Field(max_length=16, default="session")
    scope: str = Field(max_length=16, default="write")
    name: str | None = Field(default=None, max_length=100)
    created_at: datetime = instant()
    expires_at: datetime = instant()
    revoked_at: datetime | None = instant(nullable=True)
