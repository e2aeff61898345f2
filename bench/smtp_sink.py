"""A real SMTP server in its own process for the burst scenario (aiosmtpd), so that its
parsing does not share a CPU and a GIL with the dispatcher being measured. It appends
"<accepted unix time> <delivery id>" per message to a file.

    python -m bench.smtp_sink --port N --log FILE
"""

from __future__ import annotations

import argparse
import re
import time
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

# A relay queues the bytes it accepts; it does not parse the MIME. Reading the one header
# with a pattern keeps the sink's own cost per message low, so the sink is not what the
# burst measures.
DELIVERY_ID = re.compile(rb"^X-Carewatch-Delivery-Id: *(\d+)\r?$", re.MULTILINE | re.IGNORECASE)


class Recorder:
    def __init__(self, log: Path) -> None:
        self.log = log.open("a", buffering=1)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        found = DELIVERY_ID.search(envelope.content)
        delivery = found.group(1).decode() if found else "unknown"
        self.log.write(f"{time.time():.6f} {delivery}\n")
        return "250 OK"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", type=Path, required=True)
    options = parser.parse_args()
    controller = Controller(Recorder(options.log), hostname="127.0.0.1", port=options.port)
    controller.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()


if __name__ == "__main__":
    main()
