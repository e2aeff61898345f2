"""Users, their roles, and the bearer tokens they hold (stored only as hashes)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from app.models.base import Role, choice, instant


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=200)
    role: Role = choice(Role)
    password_hash: str = Field(max_length=255)
    active: bool = True
    # Normalised to +447..., for text messages (routes with channel: sms); optional.
    mobile_number: str | None = Field(default=None, max_length=16)
    created_at: datetime = instant()


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
