"""A small real OpenID Connect provider, as the council's would be: discovery at
/.well-known/openid-configuration, its keys at /jwks, an authorisation endpoint (a
"Continue" page when `interactive`, for the browser) that insists on PKCE (S256), and a
token endpoint that checks the client's secret, the redirect URI and the code verifier,
then answers with an ID token signed RS256 by joserfc.

Each test chooses who signs in next (`provider.person`) and can make the next ID token
wrong in one way (`provider.fault`): a wrong audience, a wrong issuer, expired, a wrong
nonce, a bad signature (another key), or no ID token at all.

In tests it runs over a socket (uvicorn on loopback). On its own:
    python -m tests.fakes.oidc_provider --port 8300 --roles Carewatch.Manager
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import html
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from joserfc import jwt
from joserfc.jwk import RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

CLIENT_ID = "carewatch-test-client"
CLIENT_SECRET = "test-client-secret-0123456789abcdef"
FAULTS = (
    "wrong_audience",
    "wrong_audience_naming_us_as_azp",
    "wrong_issuer",
    "expired",
    "wrong_nonce",
    "bad_signature",
    "no_id_token",
)


@dataclass
class Person:
    """Who signs in at the provider, and what their ID token will say."""

    sub: str
    email: str
    name: str
    roles: list[str] = field(default_factory=list)
    oid: str | None = None


@dataclass
class Grant:
    redirect_uri: str
    nonce: str | None
    code_challenge: str
    person: Person


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class FakeOidcProvider:
    def __init__(self, *, client_id: str = CLIENT_ID, client_secret: str = CLIENT_SECRET) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.issuer = "http://127.0.0.1"  # set to the served address by `serve`
        self.key = RSAKey.generate_key(2048, parameters={"kid": "council-key-1"})
        self.rogue_key = RSAKey.generate_key(2048, parameters={"kid": "council-key-1"})
        self.person = Person(sub="sub-0", email="someone@council.gov.uk", name="Some One")
        self.fault: str | None = None
        self.interactive = False
        self.grants: dict[str, Grant] = {}
        self.token_requests = 0
        self.pkce_checked = 0

    # -- endpoints ---------------------------------------------------------------------

    async def discovery(self, request: Request) -> Response:
        return JSONResponse(
            {
                "issuer": self.issuer,
                "authorization_endpoint": f"{self.issuer}/authorize",
                "token_endpoint": f"{self.issuer}/token",
                "jwks_uri": f"{self.issuer}/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
                "scopes_supported": ["openid", "email", "profile"],
            }
        )

    async def jwks(self, request: Request) -> Response:
        return JSONResponse({"keys": [self.key.as_dict(private=False)]})

    def _check_authorize(self, params: dict[str, str]) -> str | None:
        if params.get("client_id") != self.client_id:
            return "unknown client_id"
        if params.get("response_type") != "code":
            return "response_type must be code"
        if "openid" not in params.get("scope", "").split():
            return "scope must include openid"
        if params.get("code_challenge_method") != "S256" or not params.get("code_challenge"):
            return "PKCE with S256 is required"
        if not params.get("redirect_uri") or not params.get("state"):
            return "redirect_uri and state are required"
        return None

    async def authorize(self, request: Request) -> Response:
        params = dict(request.query_params)
        if request.method == "POST":
            params = {key: str(value) for key, value in (await request.form()).items()}
        problem = self._check_authorize(params)
        if problem:
            return HTMLResponse(f"<p>{html.escape(problem)}</p>", status_code=400)
        if self.interactive and request.method == "GET":
            hidden = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in params.items()
            )
            return HTMLResponse(
                "<!DOCTYPE html><html lang='en'><head><title>Council sign-in</title>"
                "<link rel='icon' href='data:,'></head>"
                f"<body><main><h1>Council sign-in</h1><p>Signing in as"
                f" {html.escape(self.person.email)}</p><form method='post'"
                f" action='/authorize'>{hidden}<button type='submit'>Continue</button>"
                "</form></main></body></html>"
            )
        code = secrets.token_urlsafe(16)
        self.grants[code] = Grant(
            redirect_uri=params["redirect_uri"],
            nonce=params.get("nonce"),
            code_challenge=params["code_challenge"],
            person=self.person,
        )
        query = urlencode({"code": code, "state": params["state"]})
        return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=302)

    def _client_authenticated(self, request: Request) -> bool:
        scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False
        return client_id == self.client_id and secrets.compare_digest(secret, self.client_secret)

    async def token(self, request: Request) -> Response:
        self.token_requests += 1
        form = {key: str(value) for key, value in (await request.form()).items()}
        if not self._client_authenticated(request):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        grant = self.grants.pop(form.get("code", ""), None)
        if form.get("grant_type") != "authorization_code" or grant is None:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if form.get("redirect_uri") != grant.redirect_uri:
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        if _s256(form.get("code_verifier", "")) != grant.code_challenge:
            return JSONResponse(
                {"error": "invalid_grant", "error_description": "PKCE"}, status_code=400
            )
        self.pkce_checked += 1
        answer: dict[str, Any] = {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": 3600,
        }
        if self.fault != "no_id_token":
            answer["id_token"] = self.id_token(grant)
        return JSONResponse(answer)

    def id_token(self, grant: Grant) -> str:
        now = int(time.time())
        person = grant.person
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": person.sub,
            "aud": self.client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            "email": person.email,
            "name": person.name,
            "roles": person.roles,
        }
        if person.oid:
            claims["oid"] = person.oid
        key = self.key
        if self.fault == "wrong_audience":
            claims["aud"] = "some-other-application"
        elif self.fault == "wrong_audience_naming_us_as_azp":
            claims["aud"], claims["azp"] = "some-other-application", self.client_id
        elif self.fault == "wrong_issuer":
            claims["iss"] = "https://login.microsoftonline.com/another-tenant/v2.0"
        elif self.fault == "expired":
            claims["iat"], claims["exp"] = now - 3600, now - 1800
        elif self.fault == "wrong_nonce":
            claims["nonce"] = "a-nonce-from-another-sign-in"
        elif self.fault == "bad_signature":
            key = self.rogue_key
        return jwt.encode({"alg": "RS256", "kid": "council-key-1"}, claims, key)

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/.well-known/openid-configuration", self.discovery),
                Route("/jwks", self.jwks),
                Route("/authorize", self.authorize, methods=["GET", "POST"]),
                Route("/token", self.token, methods=["POST"]),
            ]
        )


def main() -> None:  # pragma: no cover - a developer's tool
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8300)
    parser.add_argument("--email", default="manager@council.gov.uk")
    parser.add_argument("--roles", nargs="*", default=["Carewatch.Manager"])
    args = parser.parse_args()
    fake = FakeOidcProvider()
    fake.issuer = f"http://127.0.0.1:{args.port}"
    fake.interactive = True
    fake.person = Person(
        sub=f"sub-{args.email}", email=args.email, name=args.email, roles=args.roles
    )
    print(  # noqa: T201
        f"CAREWATCH_OIDC_ISSUER={fake.issuer} CAREWATCH_OIDC_CLIENT_ID={CLIENT_ID}"
        f" CAREWATCH_OIDC_CLIENT_SECRET={CLIENT_SECRET}"
    )
    uvicorn.run(fake.app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":  # pragma: no cover
    main()
