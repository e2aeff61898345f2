"""Who a bearer token or web session belongs to, remembered for a few seconds per process,
so a busy client's every request does not re-read its token and user in a transaction of
its own. A committed change to any user or token through this process clears the memory
at once; another process sees a revocation within `ttl` (docs/DEPLOY.md)."""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

from app.auth.service import Principal, digest, resolve_digest
from app.db import Database

AUTH_TABLES = frozenset({"users", "api_tokens"})
AUTH_CHANGED = "carewatch.auth_changed"


@dataclass(frozen=True)
class _Remembered:
    principal: Principal
    until: datetime  # the earlier of the token's expiry and the end of the ttl


class PrincipalCache:
    """Resolved principals by token digest (never the token itself), bounded in size.

    `generation` moves on every clear: a lookup that began before a revocation committed
    must not store what it read, or the revoked token would be remembered as valid."""

    def __init__(self, ttl: timedelta, max_entries: int = 10_000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self.generation = 0
        self._entries: OrderedDict[str, _Remembered] = OrderedDict()

    def get(self, token_digest: str, now: datetime) -> Principal | None:
        remembered = self._entries.get(token_digest)
        if remembered is None:
            return None
        if now >= remembered.until:
            del self._entries[token_digest]
            return None
        return remembered.principal

    def put(
        self,
        token_digest: str,
        principal: Principal,
        expires_at: datetime,
        now: datetime,
        generation: int,
    ) -> None:
        if generation != self.generation or self.ttl <= timedelta(0):
            return
        self._entries[token_digest] = _Remembered(principal, min(expires_at, now + self.ttl))
        self._entries.move_to_end(token_digest)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self.generation += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


async def principal_for(
    database: Database, cache: PrincipalCache, token: str, now: datetime
) -> Principal | None:
    """The principal a token stands for, or None if it is unknown, revoked, expired or
    its user is disabled."""
    token_digest = digest(token)
    principal = cache.get(token_digest, now)
    if principal is not None:
        return principal
    generation = cache.generation
    async with database.sessions() as session:
        resolved = await resolve_digest(session, token_digest, now)
    if resolved is None:
        return None
    principal, expires_at = resolved
    cache.put(token_digest, principal, expires_at, now, generation)
    return principal


def install_principal_cache(database: Database, cache: PrincipalCache) -> None:
    """Clear the cache whenever a transaction that changed a user or a token commits:
    ORM changes are seen at flush, bulk UPDATE and DELETE statements as they run."""

    def _note_flush(session: Session, _context: Any) -> None:
        changed = (*session.new, *session.dirty, *session.deleted)
        if any(getattr(row, "__tablename__", None) in AUTH_TABLES for row in changed):
            session.info[AUTH_CHANGED] = True

    def _note_statement(state: ORMExecuteState) -> None:
        if state.is_update or state.is_delete:
            table = getattr(state.statement, "table", None)
            if getattr(table, "name", None) in AUTH_TABLES:
                state.session.info[AUTH_CHANGED] = True

    def _after_commit(session: Session) -> None:
        if session.info.pop(AUTH_CHANGED, False):
            cache.clear()

    def _after_rollback(session: Session) -> None:
        session.info.pop(AUTH_CHANGED, None)

    event.listen(database.session_class, "after_flush", _note_flush)
    event.listen(database.session_class, "do_orm_execute", _note_statement)
    database.on_after_commit(_after_commit)
    database.on_after_rollback(_after_rollback)
