"""A fake GOV.UK Notify that speaks its REST API as documented: POST
/v2/notifications/email and /v2/notifications/sms, GET /v2/notifications?reference=,
a JWT per request (HS256 with the key's secret, `iss` the service id, `iat` within 30
seconds of now), error bodies shaped as Notify sends them, the 3,000 requests a minute
limit (429), a team-only key (400 for anyone outside the team), outages (5xx), slow
answers (for timeouts after a notification was created), and delivery receipts posted
back to a callback URL with its bearer token.

In tests it runs over a socket (uvicorn on loopback). On its own:
    python -m tests.fakes.notify_server --port 8200 --callback-url URL --callback-token T
It prints the API key to configure carewatch with (CAREWATCH_NOTIFY_API_KEY).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

SERVICE_ID = "26785a09-ab16-4eb0-8407-a37497a57506"
SECRET = "3d844edf-8d35-48ac-975b-e847b4f122b0"
API_KEY = f"carewatch_test-{SERVICE_ID}-{SECRET}"
EMAIL_TEMPLATE_ID = "f33517ff-2a88-4f6e-b855-c550268ce08a"
SMS_TEMPLATE_ID = "289d6c4e-d2b9-4d48-9a3f-4c5a8f2c71f3"
CLOCK_ALLOWANCE_SECONDS = 30


def error(status: int, kind: str, message: str) -> JSONResponse:
    return JSONResponse(
        {"status_code": status, "errors": [{"error": kind, "message": message}]},
        status_code=status,
    )


@dataclass
class Notification:
    id: str
    type: str  # email or sms
    to: str
    template_id: str
    personalisation: dict[str, str]
    reference: str | None
    created_at: datetime
    status: str = "created"
    receipt_posted: bool = False

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "reference": self.reference,
            "type": self.type,
            "email_address": self.to if self.type == "email" else None,
            "phone_number": self.to if self.type == "sms" else None,
            "status": self.status,
            "template": {"id": self.template_id, "version": 1, "uri": ""},
            "body": self.personalisation.get("body", ""),
            "subject": self.personalisation.get("subject"),
            "created_at": self.created_at.isoformat(),
        }


@dataclass
class FakeNotify:
    service_id: str = SERVICE_ID
    secret: str = SECRET
    templates: dict[str, str] = field(
        default_factory=lambda: {EMAIL_TEMPLATE_ID: "email", SMS_TEMPLATE_ID: "sms"}
    )
    rate_limit_per_minute: int = 3000
    team_only: bool = False
    team: set[str] = field(default_factory=set)  # addresses and numbers a team key may use
    server_errors: int = 0  # the next N sends answer 500
    rate_limited: int = 0  # the next N requests answer 429 whatever the rate
    slow_sends: int = 0  # the next N sends are created, then answered after `delay_seconds`
    delay_seconds: float = 0.0
    callback_url: str | None = None
    callback_token: str | None = None
    # Receipts: what each recipient's phone or mailbox ends up as (default delivered).
    outcomes: dict[str, str] = field(default_factory=dict)
    auto_receipts: bool = False
    notifications: list[Notification] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)  # (method, path)
    throttled: int = 0
    auth_failures: int = 0
    _recent: deque[float] = field(default_factory=deque)

    @property
    def api_key(self) -> str:
        return f"carewatch_test-{self.service_id}-{self.secret}"

    def sent_to(self, recipient: str) -> list[Notification]:
        return [n for n in self.notifications if n.to == recipient]

    def by_reference(self, reference: str) -> list[Notification]:
        return [n for n in self.notifications if n.reference == reference]

    # The API ---------------------------------------------------------------------------

    def _authenticate(self, request: Request) -> JSONResponse | None:
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            self.auth_failures += 1
            return error(401, "AuthError", "Unauthorized: authentication token must be provided")
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                options={"require": ["iss", "iat"], "verify_iat": False},
            )
        except jwt.PyJWTError:
            self.auth_failures += 1
            return error(403, "AuthError", "Invalid token: signature, api token not found")
        if claims.get("iss") != self.service_id:
            self.auth_failures += 1
            return error(403, "AuthError", "Invalid token: service not found")
        iat = claims.get("iat")
        if not isinstance(iat, int | float) or abs(time.time() - iat) > CLOCK_ALLOWANCE_SECONDS:
            self.auth_failures += 1
            return error(
                403,
                "AuthError",
                "Error: Your system clock must be accurate to within 30 seconds",
            )
        return None

    def _throttle(self) -> JSONResponse | None:
        now = time.monotonic()
        while self._recent and now - self._recent[0] >= 60:
            self._recent.popleft()
        if self.rate_limited > 0 or len(self._recent) >= self.rate_limit_per_minute:
            self.rate_limited = max(self.rate_limited - 1, 0)
            self.throttled += 1
            return error(
                429,
                "RateLimitError",
                f"Exceeded rate limit for key type TEAM of {self.rate_limit_per_minute}"
                " requests per 60 seconds",
            )
        self._recent.append(now)
        return None

    async def _send(self, request: Request, kind: str) -> Response:
        self.requests.append((request.method, request.url.path))
        refused = self._authenticate(request) or self._throttle()
        if refused is not None:
            return refused
        if self.server_errors > 0:
            self.server_errors -= 1
            return error(500, "Exception", "Internal server error")
        try:
            body = await request.json()
        except ValueError:
            return error(400, "BadRequestError", "Invalid JSON supplied in POST data")
        if not isinstance(body, dict):
            return error(400, "BadRequestError", "Invalid JSON supplied in POST data")
        to_field = "email_address" if kind == "email" else "phone_number"
        to = body.get(to_field)
        if not isinstance(to, str) or not to:
            return error(400, "ValidationError", f"{to_field} is a required property")
        template_id = body.get("template_id")
        if self.templates.get(str(template_id)) != kind:
            return error(400, "BadRequestError", "Template not found")
        personalisation = body.get("personalisation") or {}
        needed = ("subject", "body") if kind == "email" else ("body",)
        missing = [name for name in needed if name not in personalisation]
        if missing:
            return error(400, "BadRequestError", f"Missing personalisation: {', '.join(missing)}")
        if kind == "sms" and len(str(personalisation["body"])) > 918:
            return error(
                400, "BadRequestError", "Text messages cannot be longer than 918 characters"
            )
        if self.team_only and to not in self.team:
            return error(
                400,
                "BadRequestError",
                "Can't send to this recipient using a team-only API key",
            )
        notification = Notification(
            id=str(uuid.uuid4()),
            type=kind,
            to=to,
            template_id=str(template_id),
            personalisation={k: str(v) for k, v in personalisation.items()},
            reference=body.get("reference"),
            created_at=datetime.now(UTC),
        )
        self.notifications.append(notification)
        if self.slow_sends > 0:
            # Created, but the answer comes too late for the client: it cannot know.
            self.slow_sends -= 1
            await asyncio.sleep(self.delay_seconds)
        if self.auto_receipts and self.callback_url:
            asyncio.get_running_loop().create_task(self.post_receipts())
        content: dict[str, Any] = {"body": notification.personalisation["body"]}
        if kind == "email":
            content.update(
                subject=notification.personalisation["subject"],
                from_email="carewatch@notifications.service.gov.uk",
            )
        else:
            content["from_number"] = "GOVUK"
        return JSONResponse(
            {
                "id": notification.id,
                "reference": notification.reference,
                "content": content,
                "uri": f"{request.base_url}v2/notifications/{notification.id}",
                "template": {"id": notification.template_id, "version": 1, "uri": ""},
            },
            status_code=201,
        )

    async def send_email(self, request: Request) -> Response:
        return await self._send(request, "email")

    async def send_sms(self, request: Request) -> Response:
        return await self._send(request, "sms")

    async def list_notifications(self, request: Request) -> Response:
        self.requests.append((request.method, request.url.path))
        refused = self._authenticate(request) or self._throttle()
        if refused is not None:
            return refused
        reference = request.query_params.get("reference")
        found = [n for n in self.notifications if reference is None or n.reference == reference]
        return JSONResponse(
            {
                "notifications": [n.as_json() for n in reversed(found)],
                "links": {"current": str(request.url)},
            }
        )

    # Receipts --------------------------------------------------------------------------

    async def post_receipts(self, client: httpx.AsyncClient | None = None) -> list[int]:
        """Post a receipt for every notification not yet reported; returns the answers'
        status codes (what carewatch said to each)."""
        if not self.callback_url:
            return []
        answers: list[int] = []
        owned = client is None
        http = client or httpx.AsyncClient(timeout=10)
        try:
            for notification in self.notifications:
                if notification.receipt_posted:
                    continue
                notification.receipt_posted = True
                notification.status = self.outcomes.get(notification.to, "delivered")
                answers.append(await self.post_receipt(http, notification))
        finally:
            if owned:
                await http.aclose()
        return answers

    async def post_receipt(self, http: httpx.AsyncClient, notification: Notification) -> int:
        now = datetime.now(UTC).isoformat()
        assert self.callback_url is not None
        response = await http.post(
            self.callback_url,
            json={
                "id": notification.id,
                "reference": notification.reference,
                "to": notification.to,
                "status": notification.status,
                "created_at": notification.created_at.isoformat(),
                "completed_at": now,
                "sent_at": now,
                "notification_type": notification.type,
                "template_id": notification.template_id,
                "template_version": 1,
            },
            headers={"Authorization": f"Bearer {self.callback_token or ''}"},
        )
        return response.status_code

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/v2/notifications/email", self.send_email, methods=["POST"]),
                Route("/v2/notifications/sms", self.send_sms, methods=["POST"]),
                Route("/v2/notifications", self.list_notifications, methods=["GET"]),
            ]
        )


def main() -> None:
    parser = argparse.ArgumentParser(description="A fake GOV.UK Notify on loopback")
    parser.add_argument("--port", type=int, default=8200)
    parser.add_argument("--rate-per-minute", type=int, default=3000)
    parser.add_argument("--team-only", action="store_true")
    parser.add_argument("--callback-url", default=None)
    parser.add_argument("--callback-token", default=None)
    args = parser.parse_args()
    import uvicorn

    fake = FakeNotify(
        rate_limit_per_minute=args.rate_per_minute,
        team_only=args.team_only,
        callback_url=args.callback_url,
        callback_token=args.callback_token,
        auto_receipts=args.callback_url is not None,
    )
    sys.stdout.write(
        f"CAREWATCH_NOTIFY_API_KEY={fake.api_key}\n"
        f"CAREWATCH_NOTIFY_BASE_URL=http://127.0.0.1:{args.port}\n"
        f"CAREWATCH_NOTIFY_EMAIL_TEMPLATE_ID={EMAIL_TEMPLATE_ID}\n"
        f"CAREWATCH_NOTIFY_SMS_TEMPLATE_ID={SMS_TEMPLATE_ID}\n"
    )
    uvicorn.run(fake.app(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
