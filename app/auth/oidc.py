"""Sign-in through the council's OpenID Connect provider: the authorisation code flow with
PKCE (authlib's Starlette client), full validation of the ID token, the role its claim
maps to, and the account it signs in as (matched by issuer and subject, made just in time
on a first sign-in)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
from authlib.integrations.base_client import OAuthError
from authlib.integrations.starlette_client import OAuth
from joserfc.errors import JoseError
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from app.auth.service import (
    change_role,
    link_identity,
    provision_user,
    record_sign_in,
    user_by_directory_id,
    user_by_email,
    user_by_identity,
)
from app.config import Settings
from app.events import Actor
from app.models import User
from app.models.base import Role

# When the claim maps to several carewatch roles, the one that may do most wins.
ROLE_PRECEDENCE = (Role.admin, Role.manager, Role.officer, Role.safeguarding, Role.viewer)
# Seconds of clock difference allowed between the provider and us (expiry, issued-at).
CLOCK_LEEWAY_SECONDS = 60
CLIENT_NAME = "council"


class SignInFailed(Exception):
    """The provider's answer cannot be trusted or used; `reason` is a short code for the
    audit event, never anything the person typed or the token said."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class SignInRefused(Exception):
    """A valid identity that may not sign in (no carewatch role, a deactivated account, an
    email already held by another account)."""

    def __init__(self, reason: str, user_id: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.user_id = user_id


def claim_values(claims: Mapping[str, Any], name: str) -> list[str]:
    """A claim's values: a list, a single string, or a dotted path into nested objects
    (Keycloak's realm_access.roles)."""
    value: Any = claims.get(name)
    if value is None and "." in name:
        value = claims
        for part in name.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def role_from_claims(
    claims: Mapping[str, Any], roles_claim: str, role_map: Mapping[str, str]
) -> Role | None:
    """The carewatch role the provider's roles map to, or None if none does."""
    mapped = {
        Role(role_map[value]) for value in claim_values(claims, roles_claim) if value in role_map
    }
    return next((role for role in ROLE_PRECEDENCE if role in mapped), None)


def _email_of(claims: Mapping[str, Any]) -> str | None:
    for name in ("email", "preferred_username", "upn"):
        value = claims.get(name)
        if isinstance(value, str) and "@" in value and len(value) <= 254:
            return value.strip().lower()
    return None


def _name_of(claims: Mapping[str, Any], email: str) -> str:
    name = claims.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    parts = [claims.get("given_name"), claims.get("family_name")]
    joined = " ".join(part.strip() for part in parts if isinstance(part, str) and part.strip())
    return joined or email.split("@")[0]


class CouncilSignIn:
    """authlib's client for the council's provider, registered once per application.
    Its discovery document and keys are fetched on first use and kept; a token signed
    with a key it does not know makes it fetch the keys again (a rotation)."""

    def __init__(self, settings: Settings) -> None:
        assert settings.oidc_issuer is not None
        self.issuer = settings.oidc_issuer
        self.roles_claim = settings.oidc_roles_claim
        self.role_map = dict(settings.oidc_role_map)
        secret = settings.oidc_client_secret
        self._oauth = OAuth()
        self._client: Any = self._oauth.register(
            CLIENT_NAME,
            client_id=settings.oidc_client_id,
            client_secret=secret.get_secret_value() if secret else None,
            server_metadata_url=self.issuer.rstrip("/") + "/.well-known/openid-configuration",
            client_kwargs={"scope": settings.oidc_scopes, "code_challenge_method": "S256"},
        )

    @property
    def actor(self) -> Actor:
        return Actor.identity_provider(self.issuer)

    def role_from(self, claims: Mapping[str, Any]) -> Role | None:
        return role_from_claims(claims, self.roles_claim, self.role_map)

    async def _metadata(self) -> dict[str, Any]:
        try:
            metadata: dict[str, Any] = await self._client.load_server_metadata()
        except (httpx.HTTPError, ValueError):
            raise SignInFailed("provider_unreachable") from None
        # OpenID Connect Discovery 4.3: the document must name the issuer we asked.
        if metadata.get("issuer") != self.issuer:
            raise SignInFailed("discovery_issuer_mismatch")
        return metadata

    async def start(self, request: Request, redirect_uri: str) -> Response:
        """Redirect to the provider; the state, nonce and PKCE verifier wait in the
        short-lived signed cookie that request.session is for these routes."""
        await self._metadata()
        try:
            response: Response = await self._client.authorize_redirect(request, redirect_uri)
        except httpx.HTTPError:
            raise SignInFailed("provider_unreachable") from None
        return response

    async def finish(self, request: Request) -> dict[str, Any]:
        """The validated ID token's claims for the provider's redirect back: the state
        must match, the code is exchanged with the PKCE verifier, and the ID token's
        signature (the provider's keys), issuer, audience, expiry and nonce are checked."""
        await self._metadata()
        # authlib checks the audience only through `azp`, which a token for another
        # application can carry with our client id: our client id must be in `aud`.
        options = {
            "iss": {"essential": True, "value": self.issuer},
            "aud": {"essential": True, "value": self._client.client_id},
            "sub": {"essential": True},
        }
        try:
            token = await self._client.authorize_access_token(
                request, claims_options=options, leeway=CLOCK_LEEWAY_SECONDS
            )
        except OAuthError as error:
            raise SignInFailed(_oauth_reason(error)) from None
        except JoseError as error:
            claim = getattr(error, "claim", None)
            reason = f"id_token_{error.error}" + (f":{claim}" if claim else "")
            raise SignInFailed(reason[:60]) from None
        except httpx.HTTPError:
            raise SignInFailed("provider_unreachable") from None
        except (KeyError, TypeError, ValueError):
            raise SignInFailed("malformed_answer") from None
        claims = token.get("userinfo")
        # authlib validates the ID token only when the answer has one: without it there is
        # nothing that says who signed in.
        if not isinstance(claims, Mapping) or not claims.get("sub"):
            raise SignInFailed("no_id_token")
        return dict(claims)


def _oauth_reason(error: OAuthError) -> str:
    code = getattr(error, "error", None) or "oauth_error"
    return str(code)[:60]


@dataclass(frozen=True)
class SignedIn:
    user: User
    role_changed: bool
    created: bool


async def sign_in_with_identity(
    session: AsyncSession,
    *,
    issuer: str,
    claims: Mapping[str, Any],
    role: Role | None,
    actor: Actor,
    now: datetime,
) -> SignedIn:
    """The account a validated identity signs in as, with the role its claim maps to
    (set afresh on every sign-in). Matched by (issuer, sub), or, the first time, by the
    directory id SCIM gave it (Entra's object id, `oid`); never by email alone. A first
    sign-in with neither makes the account. Raises SignInRefused."""
    subject = str(claims["sub"])
    user = await user_by_identity(session, issuer, subject)
    created = False
    if user is None:
        oid = claims.get("oid")
        directory_id = oid if isinstance(oid, str) else subject
        provisioned = await user_by_directory_id(session, directory_id)
        if provisioned is not None and provisioned.identity_issuer is None:
            user = provisioned
            if role is None:
                raise SignInRefused("no_role", user.id)
            await link_identity(session, user, issuer, subject, actor=actor, now=now)
    if user is None:
        if role is None:
            raise SignInRefused("no_role")
        email = _email_of(claims)
        if email is None:
            raise SignInRefused("no_email")
        holder = await user_by_email(session, email)
        if holder is not None:
            raise SignInRefused("email_held_by_another_account", holder.id)
        user = await provision_user(
            session,
            email=email,
            name=_name_of(claims, email),
            role=role,
            actor=actor,
            now=now,
            identity=(issuer, subject),
        )
        created = True
    if not user.active:
        raise SignInRefused("deactivated", user.id)
    if role is None:
        raise SignInRefused("no_role", user.id)
    changed = await change_role(session, user, role, actor=actor, now=now)
    await record_sign_in(session, user, method="oidc", actor=actor, now=now)
    return SignedIn(user, changed, created)
