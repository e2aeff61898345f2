"""GOV.UK Notify, the channel: emails and text messages sent through Notify's REST API
over httpx, each request with its own JWT (HS256 with the key's secret, `iss` the
service id, `iat` now), the delivery's id as Notify's `reference`, and a client-side
limiter under Notify's 3,000 requests a minute.

Failures are classified as the dispatcher needs them (app/alerting/channel.py): a 400
is permanent, with Notify's own message kept on the delivery; a 403 is our key or our
clock; a 429, a 5xx or a connection that could not be made is transient; a timeout or a
dropped connection after the request went out may have created the notification, so
the next attempt first asks Notify for the reference and sends only if it has none.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import httpx
import jwt
from aiolimiter import AsyncLimiter

from app.alerting.channel import (
    ConfigurationSendError,
    Outgoing,
    PermanentSendError,
    PossiblyDeliveredError,
    TransientSendError,
)
from app.config import NOTIFY_KEY, Settings

log = logging.getLogger(__name__)


def split_key(api_key: str) -> tuple[str, str]:
    """(service id, secret) from a Notify API key: `{name}-{service id}-{secret}`."""
    match = NOTIFY_KEY.fullmatch(api_key)
    if match is None:
        raise ValueError("not a Notify API key")
    return match.group(1), match.group(2)


def notify_error(response: httpx.Response) -> str:
    """Notify's own words for a refusal ({"errors": [{"error", "message"}]})."""
    try:
        body = response.json()
    except ValueError:
        return f"GOV.UK Notify answered {response.status_code}"
    messages = [
        str(item.get("message", ""))
        for item in (body.get("errors") or [] if isinstance(body, dict) else [])
        if isinstance(item, dict)
    ]
    text = "; ".join(m for m in messages if m) or f"answered {response.status_code}"
    return f"GOV.UK Notify: {text}"[:500]


def limiter_for(requests_per_minute: int) -> AsyncLimiter:
    """A one-second bucket at the per-minute rate: any 60 seconds then hold at most
    one second's burst above the rate, so a rate set under Notify's limit stays under."""
    return AsyncLimiter(requests_per_minute / 60, 1)


class NotifyChannel:
    """Sends one delivery's email or text message; returns Notify's notification id."""

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if settings.notify_api_key is None:
            raise ValueError("the Notify channel needs CAREWATCH_NOTIFY_API_KEY")
        self.service_id, self._secret = split_key(settings.notify_api_key.get_secret_value())
        self.email_template_id = settings.notify_email_template_id
        self.sms_template_id = settings.notify_sms_template_id
        self.limiter = limiter_for(settings.notify_requests_per_minute)
        self.http = httpx.AsyncClient(
            base_url=settings.notify_base_url.rstrip("/"),
            timeout=settings.notify_timeout_seconds,
            transport=transport,
            headers={"User-Agent": "carewatch"},
        )

    def _headers(self) -> dict[str, str]:
        token = jwt.encode(
            {"iss": self.service_id, "iat": int(time.time())},
            self._secret,
            algorithm="HS256",
            headers={"typ": "JWT"},
        )
        return {"Authorization": f"Bearer {token}"}

    def _request_body(self, outgoing: Outgoing) -> tuple[str, dict[str, Any]]:
        reference = str(outgoing.delivery_id)
        if outgoing.channel == "sms":
            if self.sms_template_id is None:
                raise ConfigurationSendError("no Notify text message template is configured")
            return "/v2/notifications/sms", {
                "phone_number": outgoing.recipient,
                "template_id": self.sms_template_id,
                "personalisation": {"body": outgoing.message.text},
                "reference": reference,
            }
        if self.email_template_id is None:
            raise ConfigurationSendError("no Notify email template is configured")
        return "/v2/notifications/email", {
            "email_address": outgoing.recipient,
            "template_id": self.email_template_id,
            "personalisation": {
                "subject": outgoing.message.subject,
                "body": outgoing.message.text,
            },
            "reference": reference,
        }

    async def find(self, reference: str) -> str | None:
        """The id of a notification Notify already has under this reference, if any."""
        await self.limiter.acquire()
        try:
            response = await self.http.get(
                "/v2/notifications", params={"reference": reference}, headers=self._headers()
            )
        except httpx.HTTPError as error:
            # Not knowing is not a licence to send: try the whole thing later.
            raise TransientSendError(
                f"GOV.UK Notify could not be asked about an earlier attempt"
                f" ({type(error).__name__})"
            ) from None
        self._raise_for(response, looking_up=True)
        found = response.json().get("notifications") or []
        return str(found[0]["id"]) if found else None

    def _raise_for(self, response: httpx.Response, *, looking_up: bool = False) -> None:
        status = response.status_code
        if status in (200, 201):
            return
        message = notify_error(response)
        if status in (401, 403):
            raise ConfigurationSendError(message, status)
        if status == 429 or status >= 500:
            raise TransientSendError(message, status)
        if looking_up:
            raise TransientSendError(message, status)
        raise PermanentSendError(message, status)

    async def send(self, outgoing: Outgoing) -> str:
        reference = str(outgoing.delivery_id)
        if outgoing.maybe_sent:
            existing = await self.find(reference)
            if existing is not None:
                log.info("delivery %s: Notify already has it; not sent again", reference)
                return existing
        path, body = self._request_body(outgoing)
        await self.limiter.acquire()
        try:
            response = await self.http.post(path, json=body, headers=self._headers())
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as error:
            # Nothing reached Notify: safe to send again.
            raise TransientSendError(
                f"GOV.UK Notify unreachable ({type(error).__name__})"
            ) from None
        except httpx.HTTPError as error:
            # The request may have been taken before the answer was lost.
            raise PossiblyDeliveredError(
                f"GOV.UK Notify's answer was lost ({type(error).__name__}):"
                " it is checked before sending again"
            ) from None
        self._raise_for(response)
        return str(response.json()["id"])

    async def close_idle(self) -> None:
        """httpx keeps its own pool of connections; nothing to close per drain."""

    async def aclose(self) -> None:
        await self.http.aclose()
