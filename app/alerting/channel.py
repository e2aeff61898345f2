"""What a delivery channel is: something given one rendered message for one recipient that
sends it and answers with the reference it sent it under, or raises one of the failures
below. The dispatcher decides what each failure means for the delivery; a channel only
says which kind of failure it met.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class Outgoing:
    """One delivery's message, as a channel receives it."""

    delivery_id: int
    event_id: int
    provider_id: int | None
    recipient: str
    message: RenderedMessage
    at: datetime  # when this attempt is made
    channel: str = "email"  # email or sms: the delivery's channel column
    # An earlier attempt may have reached the service (a lost answer, a lease taken
    # over): a channel that can look a message up by reference checks before sending.
    maybe_sent: bool = False


class SendError(Exception):
    """A failed send. Its text is the server's reply, kept on the delivery for the people
    who may read it; a reply can name the recipient, so logs carry only `code`."""

    def __init__(self, text: str, code: int | None = None) -> None:
        super().__init__(text)
        self.code = code


class TransientSendError(SendError):
    """Try again later, with backoff: nothing says the recipient will not take it."""


class PossiblyDeliveredError(TransientSendError):
    """The channel lost its answer after handing the message over (a connection dropped or
    timed out mid-transaction): it may have been delivered, so sending again may
    duplicate it. Retried like any transient failure, and counted."""


class PermanentSendError(SendError):
    """This recipient will never take this message: do not retry."""


class ConfigurationSendError(SendError):
    """Our side is wrong (credentials, TLS): pause sending; the recipient is not at fault."""


class Renderer(Protocol):
    def render(self, event_type: str, context: dict[str, Any]) -> RenderedMessage:
        """One event's message; context["channel"] says for which channel."""
        ...


class Channel(Protocol):
    async def send(self, outgoing: Outgoing) -> str:
        """Send one message; return its reference (an email's Message-ID)."""
        ...

    async def close_idle(self) -> None:
        """Close what send kept open; called at the end of every drain."""
        ...
