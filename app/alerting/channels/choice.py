"""Which channel carries a delivery: its `channel` column (email or sms) picks the
sender, and the renderer that writes its words (an email's subject, text and HTML, or a
text message of at most two SMS fragments)."""

from __future__ import annotations

from datetime import tzinfo
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template

from app.alerting.channel import Channel, Outgoing, PermanentSendError, RenderedMessage
from app.alerting.email import EmailRenderer, add_officer_filters
from app.clock import DEFAULT_TIMEZONE

SMS_LIMIT = 306  # two concatenated SMS fragments of the GSM 7-bit alphabet
# Characters a name may carry that would push a text into UCS-2 (67 characters a
# fragment): their GSM look-alikes.
_GSM_LOOKALIKES = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "-"}
)


class SmsTooLong(ValueError):
    """A rendered text over SMS_LIMIT: a template's fault, caught by the tests."""


class SmsRenderer:
    """templates/sms/<event type>.txt, one line or a few: what happened, to which
    provider, and a link. No personal data: officers' and people's names never appear."""

    def __init__(self, templates_dir: Path, zone: tzinfo | str = DEFAULT_TIMEZONE) -> None:
        self.root = templates_dir / "sms"
        self.environment = Environment(
            loader=FileSystemLoader(str(self.root)),
            undefined=StrictUndefined,
            autoescape=False,
            auto_reload=False,
        )
        add_officer_filters(self.environment, zone)
        self._templates: dict[str, Template] = {}

    def has_template(self, event_type: str) -> bool:
        return (self.root / f"{event_type}.txt").is_file()

    def render(self, event_type: str, context: dict[str, Any]) -> str:
        template = self._templates.get(event_type)
        if template is None:
            name = f"{event_type}.txt" if self.has_template(event_type) else "_default.txt"
            template = self._templates[event_type] = self.environment.get_template(name)
        text = " ".join(template.render(context).split()).translate(_GSM_LOOKALIKES)
        if len(text) > SMS_LIMIT:
            raise SmsTooLong(f"the text for {event_type} is {len(text)} characters")
        return text


class MessageRenderer:
    """Renders a delivery's message for its channel (context["channel"])."""

    def __init__(self, email: EmailRenderer, sms: SmsRenderer) -> None:
        self.email = email
        self.sms = sms

    def render(self, event_type: str, context: dict[str, Any]) -> RenderedMessage:
        if context.get("channel") == "sms":
            return RenderedMessage(subject="", text=self.sms.render(event_type, context), html="")
        return self.email.render(event_type, context)


class ChannelSet:
    """One Channel for the dispatcher, sending each delivery through its own channel."""

    def __init__(self, email: Channel, sms: Channel | None = None) -> None:
        self.email = email
        self.sms = sms

    async def send(self, outgoing: Outgoing) -> str:
        if outgoing.channel == "sms":
            if self.sms is None:
                # Not a pause of every email: only texts cannot go.
                raise PermanentSendError(
                    "text messages are not set up (GOV.UK Notify's key and text template)"
                )
            return await self.sms.send(outgoing)
        return await self.email.send(outgoing)

    async def close_idle(self) -> None:
        await self.email.close_idle()
        if self.sms is not None and self.sms is not self.email:
            await self.sms.close_idle()
