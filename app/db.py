"""Engines and session factories. The caller owns the transaction; services never commit.

Each `Database` gets its own Session subclass, so commit hooks (the outbox router, the
dispatcher wake-up) are installed per app and every session made by that app runs them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

from app import sqlite_driver

SessionHook = Callable[[Session], None]


def async_url(database_url: str) -> URL:
    """Map a plain sqlite:/// or postgresql:// URL onto the async driver we use."""
    url = make_url(database_url.replace("postgres://", "postgresql://", 1))
    if url.drivername in ("sqlite", "sqlite+pysqlite"):
        url = url.set(drivername="sqlite+aiosqlite")
    elif url.drivername in ("postgresql", "postgresql+psycopg2", "postgresql+psycopg"):
        url = url.set(drivername="postgresql+asyncpg")
    return url


def ensure_sqlite_folder(url: URL) -> None:
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def make_engine(database_url: str, *, pool_size: int = 10) -> AsyncEngine:
    # aiosqlite logs every statement *with its parameters* at DEBUG, whatever
    # hide_parameters says: never let it, or a debug log would hold personal data.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    url = async_url(database_url)
    ensure_sqlite_folder(url)
    # hide_parameters: bound values (names, narratives) never reach exception text or logs.
    if url.get_backend_name() == "sqlite":
        engine = create_async_engine(
            url,
            module=sqlite_driver.dbapi(),
            hide_parameters=True,
            connect_args={"timeout": 30},
            pool_size=pool_size,
        )
        _configure_sqlite(engine)
        return engine
    return create_async_engine(
        url,
        hide_parameters=True,
        pool_size=pool_size,
        max_overflow=10,
        # No ping before each checkout: on asyncpg it is three round trips (BEGIN, ";",
        # ROLLBACK) for every request. A connection that died with the server instead
        # fails its first statement: SQLAlchemy then discards the whole pool, the request
        # gets 503 with Retry-After (app/api/errors.py) and the next one reconnects.
        pool_pre_ping=False,
        pool_recycle=1800,
        # No JIT: the planner prices a page's correlated subqueries (one index lookup each)
        # as if they scanned, crosses jit_above_cost, and compiling then takes longer than
        # the query: 22 ms of a 30 ms dashboard table. The sweep is no slower without it.
        connect_args={"server_settings": {"jit": "off"}},
    )


def _configure_sqlite(engine: AsyncEngine) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that we can BEGIN IMMEDIATE below.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers BEGIN IMMEDIATE: they take the write lock up front and queue on
        # busy_timeout, instead of failing with "database is locked" when a read lock is
        # upgraded. Read-only sessions BEGIN DEFERRED so that they never block a writer.
        mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        connection.exec_driver_sql(f"BEGIN {mode}")


WRITE_TURN_TIMEOUT_SECONDS = 30  # as SQLite's busy_timeout: a writer waits this long
WRITE_TURN = "carewatch.write_turn"


def _release_turn(session: Session) -> None:
    turn = session.info.pop(WRITE_TURN, None)
    if turn is not None:
        turn.release()


class Database:
    """One engine and the session factory every writer and reader of one app uses."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.session_class: type[Session] = type("CarewatchSession", (Session,), {})
        # Sessions that write (the write path, jobs, the dispatcher's claims)...
        self.writer_sessions = async_sessionmaker(
            engine, expire_on_commit=False, sync_session_class=self.session_class
        )
        # ...and sessions that only read (pages, lists, lookups).
        self.sessions = async_sessionmaker(
            engine.execution_options(sqlite_begin="DEFERRED"),
            expire_on_commit=False,
            sync_session_class=self.session_class,
        )

        # SQLite has one writer at a time. Writers of this process queue here, first come
        # first served, rather than in SQLite's busy handler, whose growing sleeps (up to
        # 100 ms a try) leave the lock idle and the tail latency long. Other processes
        # still meet busy_timeout. PostgreSQL locks rows, so it needs no turn.
        self._write_turn: asyncio.Lock | None = asyncio.Lock() if self.dialect == "sqlite" else None

        event.listen(self.session_class, "after_commit", _release_turn)
        event.listen(self.session_class, "after_rollback", _release_turn)

    @asynccontextmanager
    async def write_session(self) -> AsyncIterator[AsyncSession]:
        """A writer session holding this process's turn to write (SQLite) until its
        transaction ends: the commit or rollback hands the turn to the next writer, so
        work after the commit (a CQC fetch, say) does not hold others up."""
        async with self.writer_sessions() as session:
            if self._write_turn is not None:
                async with asyncio.timeout(WRITE_TURN_TIMEOUT_SECONDS):
                    await self._write_turn.acquire()
                session.sync_session.info[WRITE_TURN] = self._write_turn
            try:
                yield session
            finally:
                _release_turn(session.sync_session)

    @classmethod
    def from_url(cls, database_url: str) -> Database:
        return cls(make_engine(database_url))

    def on_before_commit(self, hook: SessionHook) -> None:
        event.listen(self.session_class, "before_commit", hook)

    def on_after_commit(self, hook: SessionHook) -> None:
        event.listen(self.session_class, "after_commit", hook)

    def on_after_rollback(self, hook: SessionHook) -> None:
        event.listen(self.session_class, "after_rollback", hook)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A session whose work is committed on success and rolled back on error."""
        async with self.write_session() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()


def is_postgres(session: AsyncSession | Session) -> bool:
    bind = session.get_bind()
    return bind.dialect.name == "postgresql"
