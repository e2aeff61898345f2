"""GOV.UK Notify's delivery receipts: POST /api/v1/notify/callbacks, authenticated by the
bearer token set in Notify's callback settings (CAREWATCH_NOTIFY_CALLBACK_TOKEN)."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse

from app.alerting.receipts import Receipt, record_receipt
from app.api.deps import ServicesDep, SessionDep
from app.api.errors import errors, problem

router = APIRouter(prefix="/api/v1", tags=["notify"])


@router.post(
    "/notify/callbacks", response_model=None, responses=errors(400, 401, 404, 413, 422, 503)
)
async def delivery_receipt(
    body: Receipt,
    services: ServicesDep,
    session: SessionDep,
    authorization: str = Header(default=""),
) -> JSONResponse | dict[str, str]:
    """Record a notification's final status on its delivery (reference = delivery id)."""
    expected = services.settings.notify_callback_token
    scheme, _, token = authorization.partition(" ")
    if (
        expected is None
        or scheme.lower() != "bearer"
        or not hmac.compare_digest(token.encode(), expected.get_secret_value().encode())
    ):
        return problem(401, "authorization", "a valid bearer token is required")
    delivery = await record_receipt(session, body, now=services.clock.now())
    await session.commit()
    return {"reference": str(delivery.id), "status": delivery.receipt_status or ""}
