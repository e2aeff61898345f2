"""Security headers on every answer: a strict Content-Security-Policy, no sniffing, no
framing, no referrer, HSTS behind TLS. (Sign-in throttling is app/auth/throttle.py.)"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping, Sequence

from starlette.types import ASGIApp, Message, Receive, Scope, Send

STRICT_CSP = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
STATIC_PREFIXES = ("/static/", "/assets/")
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


def inline_script_hashes(html: str | bytes) -> tuple[str, ...]:
    """The CSP source for each inline script of a fixed page ('sha256-...'), so that the
    page may run exactly those scripts and no other inline one."""
    text = html.decode() if isinstance(html, bytes) else html
    return tuple(
        "'sha256-" + base64.b64encode(hashlib.sha256(body.encode()).digest()).decode() + "'"
        for body in _INLINE_SCRIPT.findall(text)
    )


def strict_csp(script_hashes: Sequence[str] = ()) -> str:
    """The one policy: same-origin everything, no inline style, and no inline script but
    the hashed ones given."""
    if not script_hashes:
        return STRICT_CSP
    return STRICT_CSP.replace("script-src 'self'", "script-src 'self' " + " ".join(script_hashes))


class SecurityHeaders:
    """Adds the headers to every answer. `script_hashes` maps a path to the inline scripts
    its fixed page may run (the API docs' Swagger UI set-up); everywhere else none."""

    def __init__(self, app: ASGIApp, script_hashes: Mapping[str, Sequence[str]] | None = None):
        self.app = app
        self.policies = {
            path: strict_csp(hashes).encode() for path, hashes in (script_hashes or {}).items()
        }
        self.default_policy = STRICT_CSP.encode()

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
                    (b"content-security-policy", self.policies.get(path, self.default_policy)),
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
