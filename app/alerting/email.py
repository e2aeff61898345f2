"""Email, the channel: rendering an event's message from templates/email/<event type>/,
building it as a standard library EmailMessage, and sending it over SMTP with aiosmtplib
(or to .eml files when no SMTP host is configured).

SMTP connections are kept open for the rest of a dispatcher's drain and closed at its
end (close_idle), so a burst of alerts pays for connect, EHLO, STARTTLS and login once
per connection, not once per message, and no connection outlives the drain that used it.

Failures are classified as the dispatcher needs them (app/alerting/channel.py): a 5xx
reply is permanent; a 4xx, a refused connection or a timeout before the message was
handed over is transient; a connection lost or timed out while a message was in flight
may have delivered it; authentication and TLS faults are our configuration.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import ssl
from collections.abc import Iterator
from datetime import tzinfo
from email import policy
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from app.alerting.channel import (
    Channel,
    ConfigurationSendError,
    Outgoing,
    PermanentSendError,
    PossiblyDeliveredError,
    RenderedMessage,
    TransientSendError,
)
from app.clock import DEFAULT_TIMEZONE, written_date, written_instant
from app.config import Settings

log = logging.getLogger(__name__)


def words(value: object) -> str:
    """An enumeration's value as words: "requires_improvement" is "requires improvement"."""
    return "" if value is None else str(getattr(value, "value", value)).replace("_", " ")


def add_officer_filters(environment: Environment, zone: tzinfo | str) -> None:
    """Dates, times and labels as officers read them, in the council's time zone:
    `long_date` ("1 December 2026"), `instant` ("1 December 2026 at 3:30pm"), `words`."""
    council = ZoneInfo(zone) if isinstance(zone, str) else zone
    environment.filters.update(
        long_date=lambda value: written_date(value, council),
        instant=lambda value: written_instant(value, council),
        words=words,
    )


class EmailRenderer:
    """One Jinja2 environment with StrictUndefined: a missing variable fails loudly.
    Templates are read once per process (no reload check per message): they ship with
    the release, and a burst of alerts should not stat three files per message."""

    def __init__(self, templates_dir: Path, zone: tzinfo | str = DEFAULT_TIMEZONE) -> None:
        self.root = templates_dir / "email"
        self.environment = Environment(
            loader=FileSystemLoader(str(self.root)),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            keep_trailing_newline=True,
            auto_reload=False,
        )
        add_officer_filters(self.environment, zone)
        self._templates: dict[str, tuple[Template, Template, Template]] = {}

    def has_template(self, event_type: str) -> bool:
        return (self.root / event_type / "subject.txt").is_file()

    def _templates_for(self, event_type: str) -> tuple[Template, Template, Template]:
        templates = self._templates.get(event_type)
        if templates is None:
            folder = event_type if self.has_template(event_type) else "_default"
            get = self.environment.get_template
            templates = (
                get(f"{folder}/subject.txt"),
                get(f"{folder}/body.txt"),
                get(f"{folder}/body.html"),
            )
            self._templates[event_type] = templates
        return templates

    def render(self, event_type: str, context: dict[str, Any]) -> RenderedMessage:
        subject, text, html = self._templates_for(event_type)
        return RenderedMessage(
            subject=" ".join(subject.render(context).split()),
            text=text.render(context),
            html=html.render(context),
        )


def message_domain(base_url: str) -> str:
    """The right-hand side of our Message-IDs: the service's own host name."""
    return urlsplit(base_url).hostname or "carewatch.local"


def message_id(outgoing: Outgoing, domain: str) -> str:
    # Stable across retries: a mail system that sees the same id twice can drop one.
    return f"<delivery-{outgoing.delivery_id}.event-{outgoing.event_id}@{domain}>"


class ParsedHeaders:
    """The standard HeaderRegistry as the policy's header factory, with each header's
    class built once per process and each parsed header kept for reuse.

    HeaderRegistry makes a new class for every header it parses, and parses every value
    afresh. Most of an alert's twenty-odd headers repeat from message to message (the
    sender, the officer's address, a provider's thread, every part's Content-Type and
    transfer encoding), and parsing them was the largest cost of building an alert. A
    parsed header is a read-only string whose parse depends only on its name and value,
    so one object serves every message that sets the same value; the classes and what
    they parse are the registry's own."""

    # Enough that the headers every message repeats stay kept between messages that set
    # about six headers of their own (ids, date, boundary); each kept header holds its
    # parse tree, so a larger store buys memory and no speed (bench/NOTES.md).
    def __init__(self, kept: int = 512) -> None:
        self.registry = HeaderRegistry()
        self.classes: dict[str, type[BaseHeader]] = {}
        self._kept = functools.lru_cache(maxsize=kept)(self._parse)

    def __getitem__(self, name: str) -> type[BaseHeader]:
        key = name.lower()
        found = self.classes.get(key)
        if found is None:
            found = self.classes[key] = self.registry[name]
        return found

    def _parse(self, name: str, value: Any) -> BaseHeader:
        return self[name](name, value)

    def __call__(self, name: str, value: Any) -> BaseHeader:
        if isinstance(value, str):
            return self._kept(name, value)
        return self._parse(name, value)  # an address list, say: not hashable


# The default policy, which refuses a line break inside a header value (a header
# injection) before the header factory sees it, with parsed headers kept.
MESSAGE_POLICY = policy.default.clone(header_factory=ParsedHeaders())


def make_message(outgoing: Outgoing, *, sender: str, domain: str) -> EmailMessage:
    """The message as a multipart/alternative EmailMessage: plain text, then HTML."""
    message = EmailMessage(policy=MESSAGE_POLICY)
    message["From"] = sender
    message["To"] = outgoing.recipient
    message["Subject"] = outgoing.message.subject
    message["Date"] = format_datetime(outgoing.at)
    message["Message-ID"] = message_id(outgoing, domain)
    message["X-Carewatch-Event-Id"] = str(outgoing.event_id)
    message["X-Carewatch-Delivery-Id"] = str(outgoing.delivery_id)
    if outgoing.provider_id is not None:
        # Every alert about one provider in one thread of the reader's mailbox.
        thread = f"<provider-{outgoing.provider_id}@{domain}>"
        message["References"] = thread
        message["In-Reply-To"] = thread
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(outgoing.message.text)
    message.add_alternative(outgoing.message.html, subtype="html")
    return message


def _reply_class(codes: list[int], text: str) -> NoReturn:
    code = codes[0] if codes else None
    if codes and all(500 <= code < 600 for code in codes):
        raise PermanentSendError(text[:500], code)
    raise TransientSendError(text[:500], code)


@contextlib.contextmanager
def _classified(*, in_flight: bool) -> Iterator[None]:
    """Turn aiosmtplib's exceptions into the kinds of failure the dispatcher knows.
    in_flight: the message was being handed over, so a lost connection or a timeout
    leaves us not knowing whether the server took it (send_message does not say at
    which command it was lost, and the server may have queued the message before the
    reply to the final dot was lost)."""
    try:
        yield
    except aiosmtplib.SMTPAuthenticationError as error:
        raise ConfigurationSendError(f"SMTP authentication failed: {error.code}") from None
    except ssl.SSLError as error:
        raise ConfigurationSendError(f"SMTP TLS failure: {type(error).__name__}") from None
    except aiosmtplib.SMTPNotSupported:
        # Only SMTPUTF8: an address this relay cannot carry.
        raise PermanentSendError("the mail server cannot take a non-ASCII address") from None
    except aiosmtplib.SMTPRecipientsRefused as error:
        reply = "; ".join(f"{r.code} {r.message}" for r in error.recipients)
        _reply_class([r.code for r in error.recipients], reply)
    except aiosmtplib.SMTPResponseException as error:
        _reply_class([error.code], f"{error.code} {error.message}")
    except (aiosmtplib.SMTPServerDisconnected, TimeoutError, OSError) as error:
        # SMTPTimeoutError is a TimeoutError; a refused connection an OSError.
        if in_flight:
            raise PossiblyDeliveredError(
                f"{type(error).__name__} with the message in flight: it may have been delivered"
            ) from None
        raise TransientSendError(f"{type(error).__name__}: connection failed") from None
    except aiosmtplib.SMTPException as error:
        if "STARTTLS" in str(error) or "AUTH" in str(error):
            # aiosmtplib says so with a plain SMTPException: the server offers neither.
            raise ConfigurationSendError(
                f"SMTP TLS or authentication not offered by the server: {error}"[:500]
            ) from None
        raise TransientSendError(f"{type(error).__name__}: {error}"[:500]) from None


class SmtpMailer:
    """The email channel over SMTP; never downgrades TLS. Connections are reused until
    close_idle; one that failed in any way is closed, never reused."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.sender = str(settings.mail_from)
        self.domain = message_domain(settings.base_url)
        self._idle: list[aiosmtplib.SMTP] = []

    async def _connect(self) -> aiosmtplib.SMTP:
        settings = self.settings
        client = aiosmtplib.SMTP(
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username,
            password=(
                settings.smtp_password.get_secret_value() if settings.smtp_password else None
            ),
            use_tls=settings.smtp_tls,
            # True (not None): STARTTLS is required, so a server that does not offer
            # it fails the send rather than silently carrying the message in clear.
            start_tls=settings.smtp_starttls if not settings.smtp_tls else False,
            timeout=settings.smtp_timeout_seconds,
        )
        with _classified(in_flight=False):
            try:
                await client.connect()
            except BaseException:
                client.close()
                raise
        return client

    async def _connection(self) -> aiosmtplib.SMTP:
        """A kept connection the server has not closed meanwhile (an idle timeout, a
        restart), else a new one: nothing has been sent on it yet, so replacing it
        cannot duplicate a message."""
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client
            client.close()
        return await self._connect()

    async def send(self, outgoing: Outgoing) -> str:
        try:
            message = make_message(outgoing, sender=self.sender, domain=self.domain)
        except ValueError:
            raise PermanentSendError("the message could not be built (a header value)") from None
        client = await self._connection()
        try:
            with _classified(in_flight=True):
                # One recipient: a refusal raises, so no partial refusal goes unnoticed.
                await client.send_message(message, recipients=[outgoing.recipient])
        except BaseException:
            client.close()
            raise
        self._idle.append(client)
        return str(message["Message-ID"])

    async def close_idle(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            with contextlib.suppress(aiosmtplib.SMTPException, TimeoutError, OSError):
                await client.quit()
            client.close()


# The reference a message written to a file is recorded with (the delivery's message_id),
# so the alerts page can tell "written to a file" apart from "sent".
FILE_REFERENCE_PREFIX = "file:"


def written_to_file(reference: str | None) -> bool:
    """Whether a delivery's recorded reference says it went to an .eml file, not a server."""
    return reference is not None and reference.startswith(FILE_REFERENCE_PREFIX)


class FileMailer:
    """The embedded default: each message becomes an .eml file under var/outbox/."""

    def __init__(self, folder: Path, *, sender: str, domain: str) -> None:
        self.folder = folder
        self.sender = sender
        self.domain = domain

    async def send(self, outgoing: Outgoing) -> str:
        message = make_message(outgoing, sender=self.sender, domain=self.domain)
        self.folder.mkdir(parents=True, exist_ok=True)
        name = str(message["Message-ID"]).strip("<>").replace("@", "_at_") + ".eml"
        path = self.folder / name
        await asyncio.to_thread(path.write_bytes, message.as_bytes())
        log.info("alert written to outbox file %s", path.name)
        return FILE_REFERENCE_PREFIX + name

    async def close_idle(self) -> None:
        """Nothing is held open between messages."""


def mailer_for(settings: Settings) -> Channel:
    if settings.emails_via_smtp:
        return SmtpMailer(settings)
    return FileMailer(
        settings.outbox_dir,
        sender=str(settings.mail_from),
        domain=message_domain(settings.base_url),
    )
