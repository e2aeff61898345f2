"""Sign-in throttling for the API's token route and the web's sign-in form alike: failed
sign-ins counted per account, per account and address, and per address (the `limits`
library's moving windows; in-process, so per replica)."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, TypeVar

from limits import RateLimitItem, RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from app.config import Settings

T = TypeVar("T")


class SignInLocked(Exception):
    """Too many failed sign-ins, for the account (from anywhere or from this address) or
    from this address; `retry_after` is the whole seconds until one more try is allowed."""

    def __init__(self, scope: Literal["account", "address"], retry_after: int) -> None:
        super().__init__(f"sign-in locked per {scope} for {retry_after} s")
        self.scope = scope
        self.retry_after = retry_after

    @property
    def wait(self) -> str:
        minutes = math.ceil(self.retry_after / 60)
        return "1 minute" if minutes == 1 else f"{minutes} minutes"

    @property
    def message(self) -> str:
        """A sentence for the sign-in page and the API's error body."""
        whose = "for this account" if self.scope == "account" else "from your network"
        return f"Too many failed sign-ins {whose}. Wait {self.wait}, then try again."


@dataclass(frozen=True)
class _Limit:
    scope: Literal["account", "address"]
    item: RateLimitItem
    identifiers: tuple[str, ...]


class LoginThrottle:
    """Counts failed sign-ins only, in moving windows: per account (a guesser using many
    addresses), per account from one address (a guesser at one machine; lower), and per
    address (one address trying many accounts; high, since a whole office may share one
    NAT address). While any is full, a sign-in is refused without checking the password,
    so a guesser learns nothing; a correct password never counts."""

    def __init__(
        self,
        *,
        per_account: int = 10,
        per_account_address: int = 5,
        per_address: int = 100,
        window_minutes: int = 15,
    ) -> None:
        self.limiter = MovingWindowRateLimiter(MemoryStorage())
        self.per_account = RateLimitItemPerMinute(per_account, window_minutes)
        self.per_account_address = RateLimitItemPerMinute(per_account_address, window_minutes)
        self.per_address = RateLimitItemPerMinute(per_address, window_minutes)
        # Checks under way, counted against each limit: concurrent guesses cannot slip
        # past a limit while their (deliberately slow) password checks run.
        self._in_flight: dict[_Limit, int] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> LoginThrottle:
        return cls(
            per_account=settings.login_failures_per_account,
            per_account_address=settings.login_failures_per_account_address,
            per_address=settings.login_failures_per_address,
            window_minutes=settings.login_failure_window_minutes,
        )

    def _limits(self, email: str, address: str) -> tuple[_Limit, ...]:
        account = email.strip().lower()[:254]
        return (
            _Limit("account", self.per_account, ("account", account)),
            _Limit("account", self.per_account_address, ("account-address", account, address)),
            _Limit("address", self.per_address, ("address", address)),
        )

    def _refuse_if_locked(self, limits: tuple[_Limit, ...]) -> None:
        waits: list[tuple[int, Literal["account", "address"]]] = []
        for limit in limits:
            pending = self._in_flight.get(limit, 0)
            if self.limiter.test(limit.item, *limit.identifiers, cost=pending + 1):
                continue
            stats = self.limiter.get_window_stats(limit.item, *limit.identifiers)
            # Full of failures: the oldest one leaving the window frees a try. Full only
            # with checks under way: one of them is about to finish.
            seconds = stats.reset_time - time.time() if stats.remaining <= pending else 1
            waits.append((max(1, math.ceil(seconds)), limit.scope))
        if waits:
            retry_after, scope = max(waits)
            raise SignInLocked(scope, retry_after)

    async def guard(
        self, email: str, address: str, check: Callable[[], Awaitable[T | None]]
    ) -> T | None:
        """Run `check` (the password check: the user, or None) unless a limit is full,
        and count it as a failure if it returns None. Raises SignInLocked."""
        limits = self._limits(email, address)
        self._refuse_if_locked(limits)
        for limit in limits:
            self._in_flight[limit] = self._in_flight.get(limit, 0) + 1
        try:
            result = await check()
        finally:
            for limit in limits:
                left = self._in_flight[limit] - 1
                if left:
                    self._in_flight[limit] = left
                else:
                    del self._in_flight[limit]
        if result is None:
            for limit in limits:
                self.limiter.hit(limit.item, *limit.identifiers)
        return result
