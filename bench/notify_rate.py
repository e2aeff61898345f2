"""The Notify channel's sending rate against the fake Notify (tests/fakes/notify_server)
with Notify's limit of 3,000 requests a minute: how close the client-side limiter comes
to the allowed rate, and how many 429s it causes (the target is none).

    python -m bench.notify_rate [--seconds 90] [--senders 16] [--rate-per-minute 2850]

The fake runs on loopback (uvicorn) in this process; `senders` tasks send text messages
through app.alerting.channels.notify.NotifyChannel as fast as it lets them, for
`seconds`. The rate is messages Notify accepted per minute over the whole run.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys
import time
from datetime import UTC, datetime

import uvicorn

from app.alerting.channel import Outgoing, RenderedMessage, TransientSendError
from app.alerting.channels.notify import NotifyChannel
from app.config import Settings
from tests.fakes.notify_server import EMAIL_TEMPLATE_ID, SMS_TEMPLATE_ID, FakeNotify

NOTIFY_LIMIT = 3000


async def measure(seconds: float, senders: int, rate_per_minute: int) -> dict[str, float]:
    fake = FakeNotify(rate_limit_per_minute=NOTIFY_LIMIT)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(fake.app(), host="127.0.0.1", port=port, log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    while not server.started:  # noqa: ASYNC110  (uvicorn offers no started event)
        await asyncio.sleep(0.01)
    settings = Settings(
        _env_file=None,
        notify_api_key=fake.api_key,
        notify_base_url=f"http://127.0.0.1:{port}",
        notify_email_template_id=EMAIL_TEMPLATE_ID,
        notify_sms_template_id=SMS_TEMPLATE_ID,
        notify_requests_per_minute=rate_per_minute,
    )
    channel = NotifyChannel(settings)
    refused = 0
    counter = iter(range(1, 10**9))
    deadline = time.monotonic() + seconds
    started = time.monotonic()

    async def sender() -> None:
        nonlocal refused
        while time.monotonic() < deadline:
            number = next(counter)
            try:
                await channel.send(
                    Outgoing(
                        delivery_id=number,
                        event_id=number,
                        provider_id=1,
                        recipient="+447700900123",
                        message=RenderedMessage("", "carewatch: a bench message", ""),
                        at=datetime.now(UTC),
                        channel="sms",
                    )
                )
            except TransientSendError:
                refused += 1

    await asyncio.gather(*(sender() for _ in range(senders)))
    elapsed = time.monotonic() - started
    await channel.aclose()
    server.should_exit = True
    await serving
    accepted = len(fake.notifications)
    per_minute = accepted / elapsed * 60
    return {
        "seconds": elapsed,
        "accepted": accepted,
        "per_minute": per_minute,
        "share": per_minute / NOTIFY_LIMIT,
        "throttled": fake.throttled,
        "refused": refused,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90.0)
    parser.add_argument("--senders", type=int, default=16)
    parser.add_argument("--rate-per-minute", type=int, default=2850)
    options = parser.parse_args()
    result = asyncio.run(measure(options.seconds, options.senders, options.rate_per_minute))
    sys.stdout.write(
        f"Notify channel at {options.rate_per_minute}/min against a {NOTIFY_LIMIT}/min limit:"
        f" {result['accepted']:.0f} accepted in {result['seconds']:.1f} s ="
        f" {result['per_minute']:.0f}/min = {result['share']:.1%} of the limit;"
        f" 429s caused: {result['throttled']:.0f}; transient failures: {result['refused']:.0f}\n"
    )


if __name__ == "__main__":
    main()
