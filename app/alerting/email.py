"""Email: rendering an event's message from templates/email/<event type>/, and sending
it over SMTP with aiosmtplib (or to .eml files when no SMTP host is configured).

Send failures are classified, because the dispatcher treats them differently:
transient (retry with backoff), permanent (this recipient will never take it), and
configuration faults (our side is wrong: pause, do not use up attempts).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import aiosmtplib
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

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
    """One Jinja2 environment with StrictUndefined: a missing variable fails loudly."""

    def __init__(self, templates_dir: Path) -> None:
        self.root = templates_dir / "email"
        self.environment = Environment(
            loader=FileSystemLoader(str(self.root)),
            undefined=StrictUndefined,
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            keep_trailing_newline=True,
        )

    def has_template(self, event_type: str) -> bool:
        return (self.root / event_type / "subject.txt").is_file()

    def render(self, event_type: str, context: dict[str, Any]) -> RenderedMessage:
        folder = event_type if self.has_template(event_type) else "_default"
        subject = self.environment.get_template(f"{folder}/subject.txt").render(context)
        return RenderedMessage(
            subject=" ".join(subject.split()),
            text=self.environment.get_template(f"{folder}/body.txt").render(context),
            html=self.environment.get_template(f"{folder}/body.html").render(context),
        )


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
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = rendered.subject
    message["Date"] = format_datetime(sent_at)
    # Stable across retries: a mail system that sees the same id twice can drop one.
    message["Message-ID"] = f"<delivery-{delivery_id}.event-{event_id}@{domain}>"
    message["X-Carewatch-Event-Id"] = str(event_id)
    message["X-Carewatch-Delivery-Id"] = str(delivery_id)
    if provider_id is not None:
        thread = f"<provider-{provider_id}@{domain}>"
        message["References"] = thread
        message["In-Reply-To"] = thread
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    return message


class SmtpMailer:
    """Sends one message to one recipient; never downgrades TLS."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    async def send(self, message: EmailMessage) -> str:
        settings = self.settings
        try:
            errors, reply = await aiosmtplib.send(
                message,
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
        if errors:
            # One recipient per message: a refusal here is that recipient's answer.
            reply_text = "; ".join(f"{r.code} {r.message}" for r in errors.values())
            raise PermanentSendError(reply_text[:500])
        return reply


class FileMailer:
    """The embedded default: each message becomes an .eml file under var/outbox/."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    async def send(self, message: EmailMessage) -> str:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = str(message["Message-ID"]).strip("<>").replace("@", "_at_") + ".eml"
        path = self.folder / name
        await asyncio.to_thread(path.write_bytes, bytes(message))
        log.info("alert written to outbox file %s", path.name)
        return f"250 written {path.name}"


def mailer_for(settings: Settings) -> SmtpMailer | FileMailer:
    return SmtpMailer(settings) if settings.emails_via_smtp else FileMailer(settings.outbox_dir)
