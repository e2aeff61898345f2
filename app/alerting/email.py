"""Email: rendering an event's message from templates/email/<event type>/, and sending
it over SMTP with aiosmtplib (or to .eml files when no SMTP host is configured).

SMTP connections are kept open for the rest of a dispatcher's drain and closed at its
end (close_idle), so a burst of alerts pays for connect, EHLO, STARTTLS and login once
per connection, not once per message, and no connection outlives the drain that used it.

Send failures are classified, because the dispatcher treats them differently:
transient (retry with backoff), permanent (this recipient will never take it), and
configuration faults (our side is wrong: pause, do not use up attempts).
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import secrets
import ssl
from collections.abc import Iterator
from dataclasses import dataclass
from email.charset import BASE64, Charset
from email.generator import BytesGenerator
from email.header import Header
from email.message import Message
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.policy import Compat32
from email.utils import format_datetime
from pathlib import Path
from typing import Any, cast

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape

from app.config import Settings

log = logging.getLogger(__name__)


class SendError(Exception):
    """A failed send; the message is safe to store (the server's reply, no content)."""


class TransientSendError(SendError):
    pass


class PermanentSendError(SendError):
    pass


class ConfigurationSendError(SendError):
    pass


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    text: str
    html: str


class EmailRenderer:
    """One Jinja2 environment with StrictUndefined: a missing variable fails loudly.
    Templates are read once per process (no reload check per message): they ship with
    the release, and a burst of alerts should not stat three files per message."""

    def __init__(self, templates_dir: Path) -> None:
        self.root = templates_dir / "email"
        self.environment = Environment(
            loader=FileSystemLoader(str(self.root)),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            keep_trailing_newline=True,
            auto_reload=False,
        )
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


# Non-ASCII subjects as base64 encoded words: the default (the shorter of base64 and
# quoted-printable) measures the quoted-printable length character by character.
_UTF8_BASE64 = Charset("utf-8")
_UTF8_BASE64.header_encoding = BASE64


def build_message(
    rendered: RenderedMessage,
    *,
    sender: str,
    recipient: str,
    delivery_id: int,
    event_id: int,
    provider_id: int | None,
    domain: str,
    sent_at: Any,
) -> Message:
    # The compat32 MIME classes, not EmailMessage: the same multipart/alternative message
    # built and flattened in a fraction of the time, which a burst of alerts feels. They
    # do not refuse a line break inside a header value, so that check is made here.
    headers: dict[str, str] = {
        "From": sender,
        "To": recipient,
        "Subject": rendered.subject,
        "Date": format_datetime(sent_at),
        # Stable across retries: a mail system that sees the same id twice can drop one.
        "Message-ID": f"<delivery-{delivery_id}.event-{event_id}@{domain}>",
        "X-Carewatch-Event-Id": str(event_id),
        "X-Carewatch-Delivery-Id": str(delivery_id),
    }
    if provider_id is not None:
        thread = f"<provider-{provider_id}@{domain}>"
        headers["References"] = thread
        headers["In-Reply-To"] = thread
    headers["Auto-Submitted"] = "auto-generated"
    # A random boundary of our own: the generator's default searches every part for a
    # safe one with a regular expression compiled per message.
    message = MIMEMultipart("alternative", boundary=f"carewatch-{secrets.token_hex(16)}")
    for name, value in headers.items():
        if "\r" in value or "\n" in value:
            raise ValueError(f"a line break in the {name} header")
        if value.isascii():
            message[name] = value
        else:
            # compat32 takes a Header object as a value; the stubs only know str.
            message[name] = cast(str, Header(value, _UTF8_BASE64, header_name=name))
    message.attach(_text_part(rendered.text, "plain"))
    message.attach(_text_part(rendered.html, "html"))
    return message


def _text_part(text: str, subtype: str) -> MIMEText:
    # Plain ASCII with short lines goes as it is (7bit, readable in any mail source);
    # anything else as UTF-8 in base64, which SMTP carries whatever the characters.
    if text.isascii() and all(len(line) <= 998 for line in text.splitlines()):
        return MIMEText(text, subtype, "us-ascii")
    return MIMEText(text, subtype, "utf-8")


class _QuickFolding(Compat32):
    """compat32 that writes a short plain-ASCII header as it is. compat32 otherwise runs
    every header of every message through the Header class, which was most of the cost
    of flattening a message; anything else (the encoded Subject, a long header) still
    goes through it."""

    def fold_binary(self, name: str, value: Any) -> bytes:
        if (
            isinstance(value, str)
            and value.isascii()
            and len(name) + len(value) + 2 <= 78
            and "\r" not in value
            and "\n" not in value
        ):
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


_WIRE = _QuickFolding(linesep="\r\n", mangle_from_=False)


def wire_bytes(message: Message) -> bytes:
    """The message as it goes over SMTP (CRLF line ends) and into an .eml file."""
    with io.BytesIO() as buffer:
        BytesGenerator(buffer, policy=_WIRE).flatten(message)
        return buffer.getvalue()


@contextlib.contextmanager
def _classified() -> Iterator[None]:
    """Turn aiosmtplib's exceptions into the three kinds of failure the dispatcher knows."""
    try:
        yield
    except aiosmtplib.SMTPAuthenticationError as error:
        raise ConfigurationSendError(f"SMTP authentication failed: {error.code}") from None
    except (aiosmtplib.SMTPNotSupported, ssl.SSLError) as error:
        raise ConfigurationSendError(f"SMTP TLS failure: {type(error).__name__}") from None
    except aiosmtplib.SMTPRecipientsRefused as error:
        codes = [r.code for r in error.recipients]
        reply_text = "; ".join(f"{r.code} {r.message}" for r in error.recipients)
        if all(500 <= code < 600 for code in codes):
            raise PermanentSendError(reply_text[:500]) from None
        raise TransientSendError(reply_text[:500]) from None
    except aiosmtplib.SMTPResponseException as error:
        text = f"{error.code} {error.message}"[:500]
        if 500 <= error.code < 600:
            raise PermanentSendError(text) from None
        raise TransientSendError(text) from None
    except aiosmtplib.SMTPException as error:
        if "STARTTLS" in str(error):
            # aiosmtplib says so with a plain SMTPException: the server offers no TLS.
            raise ConfigurationSendError(
                "SMTP TLS failure: the server does not offer STARTTLS"
            ) from None
        raise TransientSendError(f"{type(error).__name__}: connection failed") from None
    except (TimeoutError, OSError) as error:
        raise TransientSendError(f"{type(error).__name__}: connection failed") from None


class SmtpMailer:
    """Sends one message to one recipient; never downgrades TLS. Connections are reused
    until close_idle; one that failed in any way is closed, never reused."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
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
        with _classified():
            try:
                await client.connect()
            except BaseException:
                client.close()
                raise
        return client

    async def send(self, message: Message) -> str:
        sender, recipient, raw = str(message["From"]), str(message["To"]), wire_bytes(message)
        reused = bool(self._idle)
        client = self._idle.pop() if reused else await self._connect()
        try:
            with _classified():
                try:
                    reply = await self._transact(client, sender, recipient, raw)
                except aiosmtplib.SMTPServerDisconnected:
                    if not reused:
                        raise
                    # The server dropped a kept connection before taking the message
                    # (an idle timeout, a restart): once more on a new connection.
                    client.close()
                    client = await self._connect()
                    reply = await self._transact(client, sender, recipient, raw)
        except BaseException:
            client.close()
            raise
        self._idle.append(client)
        return reply

    @staticmethod
    async def _transact(client: aiosmtplib.SMTP, sender: str, recipient: str, raw: bytes) -> str:
        # MAIL, RCPT, DATA themselves rather than sendmail, which parses both addresses
        # again and measures the message for SIZE on every call. A refused recipient
        # raises SMTPRecipientRefused, a response error like any other.
        await client.mail(sender)
        await client.rcpt(recipient)
        return (await client.data(raw)).message

    async def close_idle(self) -> None:
        idle, self._idle = self._idle, []
        for client in idle:
            with contextlib.suppress(aiosmtplib.SMTPException, TimeoutError, OSError):
                await client.quit()
            client.close()


class FileMailer:
    """The embedded default: each message becomes an .eml file under var/outbox/."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: Message) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = str(message["Message-ID"]).strip("<>").replace("@", "_at_") + ".eml"
        path = self.folder / name
        await asyncio.to_thread(path.write_bytes, wire_bytes(message))
        log.info("alert written to outbox file %s", path.name)
        return f"250 written {path.name}"

    async def close_idle(self) -> None:
        """Nothing is held open between messages."""


def mailer_for(settings: Settings) -> SmtpMailer | FileMailer:
    return SmtpMailer(settings) if settings.emails_via_smtp else FileMailer(settings.outbox_dir)
