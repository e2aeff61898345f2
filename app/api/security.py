"""Security headers on every answer: a strict Content-Security-Policy, no sniffing, no
framing, no referrer, HSTS behind TLS. (Sign-in throttling is app/auth/throttle.py.)"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# The interactive API docs load Swagger UI and ReDoc from their CDN.
DOCS_CSP = (
    "default-src 'self'; img-src 'self' data: https://fastapi.tiangolo.com; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; worker-src blob:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)
DOCS_PATHS = ("/docs", "/redoc", "/docs/oauth2-redirect")
STATIC_PREFIXES = ("/static/", "/assets/")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        headers_in = dict(scope.get("headers", []))
        https = scope.get("scheme") == "https" or headers_in.get(b"x-forwarded-proto") == b"https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (
                        b"content-security-policy",
                        (DOCS_CSP if path in DOCS_PATHS else STRICT_CSP).encode(),
                    ),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-frame-options", b"DENY"),
                    # Pages and answers may hold personal data; the vendored assets do not.
                    (
                        b"cache-control",
                        b"public, max-age=3600"
                        if path.startswith(STATIC_PREFIXES)
                        else b"no-store",
                    ),
                ]
                if https:
                    extra.append(
                        (b"strict-transport-security", b"max-age=31536000; includeSubDomains")
                    )
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
