"""Browser sessions and CSRF. A session is a row in api_tokens (kind "web"), so disabling a
user or changing a password ends it at once; the cookie carries the token signed with the
secret key. CSRF tokens are an HMAC of the session, so nothing more is stored; the login
form, which has no session yet, uses a signed double-submit cookie."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from fastapi import Request, Response
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import Principal, issue_token, principal_for, revoke_token
from app.models import User
from app.services import Services

SESSION_COOKIE = "carewatch_session"
LOGIN_CSRF_COOKIE = "carewatch_login_csrf"
FLASH_COOKIE = "carewatch_flash"
CSRF_FIELD = "csrf_token"


class SessionCodec:
    """Signs cookie values with the service's secret key (one salt per purpose)."""

    def __init__(self, secret: str) -> None:
        self._secret = secret.encode()
        self._session = URLSafeSerializer(secret, salt="carewatch.session")
        self._login = URLSafeSerializer(secret, salt="carewatch.login-csrf")
        self._flash = URLSafeSerializer(secret, salt="carewatch.flash")

    def dump_session(self, token: str) -> str:
        return self._session.dumps(token)

    def load_session(self, value: str) -> str | None:
        try:
            token = self._session.loads(value)
        except BadSignature:
            return None
        return token if isinstance(token, str) else None

    def csrf_for(self, token: str) -> str:
        return hmac.new(self._secret, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()

    def new_login_csrf(self) -> tuple[str, str]:
        """A random value for the login form and its signed cookie."""
        value = secrets.token_urlsafe(24)
        return value, self._login.dumps(value)

    def login_csrf_matches(self, cookie: str | None, submitted: str | None) -> bool:
        if not cookie or not submitted:
            return False
        try:
            expected = self._login.loads(cookie)
        except BadSignature:
            return False
        return isinstance(expected, str) and hmac.compare_digest(expected, submitted)

    def dump_flash(self, data: dict[str, object]) -> str:
        return self._flash.dumps(data)

    def load_flash(self, value: str | None) -> dict[str, object] | None:
        if not value:
            return None
        try:
            data = self._flash.loads(value)
        except BadSignature:
            return None
        return data if isinstance(data, dict) else None


def codec(services: Services) -> SessionCodec:
    return SessionCodec(services.settings.secret_key.get_secret_value())


def secure_cookies(request: Request) -> bool:
    return request.url.scheme == "https" or request.headers.get("x-forwarded-proto") == "https"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )


async def start_session(session: AsyncSession, services: Services, user: User) -> tuple[str, int]:
    """A new web session for the user: (the signed cookie value, its lifetime in seconds)."""
    ttl = timedelta(minutes=services.settings.token_ttl_minutes)
    token = await issue_token(session, user, now=services.clock.now(), ttl=ttl, kind="web")
    return codec(services).dump_session(token), int(ttl.total_seconds())


async def current_session(request: Request, services: Services) -> tuple[Principal, str] | None:
    """The signed-in user and their CSRF token, or None."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    signer = codec(services)
    token = signer.load_session(cookie)
    if token is None:
        return None
    # Read afresh on every page: a sign-out or a disabled user ends the session at once.
    async with services.database.sessions() as session:
        principal = await principal_for(session, token, services.clock.now())
    if principal is None:
        return None
    return principal, signer.csrf_for(token)


async def end_session(request: Request, services: Services) -> None:
    token = codec(services).load_session(request.cookies.get(SESSION_COOKIE, ""))
    if token is None:
        return
    async with services.database.transaction() as session:
        await revoke_token(session, token, services.clock.now())
