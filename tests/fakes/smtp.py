"""A real SMTP server (aiosmtpd) in-process, with switches for the failures we must handle:
a transient 451, a 550 for chosen recipients, required authentication, outages, a
connection dropped after the message was accepted, and a reply held back."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, LoginPassword


@dataclass
class Hold:
    """Accept the next message, then hold its reply until released: meanwhile the sender
    can be killed, or its lease run out."""

    reached: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class Recorder:
    """Accepts mail like a relay; records every message with its envelope recipients."""

    inbox: list[tuple[str, EmailMessage]] = field(default_factory=list)
    transient_failures: int = 0
    refuse: set[str] = field(default_factory=set)
    connections: int = 0
    # Ordinals (from 1) of the DATA commands to fault. drop_after_data: the message is
    # queued, then the connection dropped before the reply to its final dot (the sender
    # cannot know it arrived). drop_before_queueing: the connection is dropped and the
    # message lost; the sender sees the same thing.
    drop_after_data: set[int] = field(default_factory=set)
    drop_before_queueing: set[int] = field(default_factory=set)
    hold: Hold | None = None
    data_commands: int = 0

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if address.lower() in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.data_commands += 1
        if self.data_commands in self.drop_before_queueing:
            server.transport.abort()
            return "451 4.3.0 lost"  # written to a closed connection: never read
        if self.transient_failures > 0:
            self.transient_failures -= 1
            return "451 4.3.0 try again later"
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        for recipient in envelope.rcpt_tos:
            self.inbox.append((recipient.lower(), message))
        if self.data_commands in self.drop_after_data:
            server.transport.abort()  # queued, but the sender never hears so
        hold, self.hold = self.hold, None
        if hold is not None:
            hold.reached.set()
            await hold.release.wait()
        return "250 OK queued"

    def received_by(self, recipient: str) -> list[EmailMessage]:
        return [m for r, m in self.inbox if r == recipient.lower()]

    def subjects_for(self, recipient: str) -> list[str]:
        return sorted(str(m["Subject"]) for m in self.received_by(recipient))


def readable(message: EmailMessage) -> str:
    """The headers and every part's decoded text: what a reader (or a leak) would see,
    whatever transfer encoding carried it."""
    headers = "\n".join(f"{name}: {value}" for name, value in message.items())
    parts = [
        part.get_content()
        for part in message.walk()
        if not part.is_multipart() and part.get_content_maintype() == "text"
    ]
    return "\n".join([headers, *parts])


class SmtpServer:
    """Start and stop on a fixed port, so a test can take the server away and back."""

    def __init__(
        self,
        recorder: Recorder,
        *,
        port: int = 0,
        username: str | None = None,
        password: str | None = None,
        idle_timeout: float = 300,
    ) -> None:
        self.recorder = recorder
        self.idle_timeout = idle_timeout
        self.host = "127.0.0.1"
        self.port = port
        self.username = username
        self.password = password
        self._server: asyncio.AbstractServer | None = None

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == self.username
            and auth_data.password.decode() == self.password
        )
        return AuthResult(success=ok, handled=False)  # the server answers 535 itself

    def _protocol(self) -> SMTPServer:
        self.recorder.connections += 1
        if self.username is None:
            return SMTPServer(self.recorder, hostname="smtp.test.local", timeout=self.idle_timeout)
        return SMTPServer(
            self.recorder,
            hostname="smtp.test.local",
            auth_required=True,
            auth_require_tls=False,
            authenticator=self._authenticate,
        )

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._protocol, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
