"""Engines and session factories. The caller owns the transaction; services never commit.

SQLite has one writer at a time. Its writers of one process queue for the one connection
of a writer engine's pool (SQLAlchemy's pool queue serves waiters first come, first
served), so they never meet in SQLite's busy handler; sessions that only read use a
reader engine beside it. PostgreSQL locks rows, and one engine serves both.

Each `Database` gets its own Session subclass, so commit hooks (the outbox router, the
dispatcher wake-up) are installed per app and every session made by that app runs them.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Session

SessionHook = Callable[[Session], None]

# How long a SQLite writer waits for its turn (in the writer pool's queue), and one of
# another process waits in SQLite's busy handler, before its request fails.
WRITE_WAIT_SECONDS = 30


# PostgreSQL's answers while it shuts down, starts up or is out of connections: class 08
# (connection exceptions) is matched by its prefix.
PASSING_SQLSTATES = frozenset({"57P01", "57P02", "57P03", "53300"})
SQLITE_BUSY_CODES = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})

# What a lost or busy database raises: handlers for these ask `unavailable` to be sure.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (sa_exc.DBAPIError, sa_exc.TimeoutError, OSError)


def unavailable(error: BaseException) -> bool:
    """Whether an error means the database is out of reach for a moment (restarting,
    failing over, refusing or resetting connections, or busy beyond our wait), so that the
    same request may well succeed when retried."""
    if isinstance(error, sa_exc.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated:  # the connection died under the statement
            return True
        sqlstate = getattr(error.orig, "sqlstate", None)
        if isinstance(sqlstate, str):
            return sqlstate.startswith("08") or sqlstate in PASSING_SQLSTATES
        code = getattr(error.orig, "sqlite_errorcode", None)  # extended codes: low byte
        return isinstance(code, int) and code & 0xFF in SQLITE_BUSY_CODES
    # The drivers raise the socket's own error (refused, reset, unreachable, timed out)
    # when a new connection cannot be made; nothing else in a request opens sockets
    # without wrapping their errors.
    return isinstance(error, OSError)


async def close_session(session: AsyncSession) -> None:
    """Close a session whose work is over, rolling back what it did not commit. If the
    database dropped the connection meanwhile there is nothing left to roll back: the
    connection is discarded quietly, so that a request already answered (FastAPI closes
    the request's session after sending the answer) is not turned into an error."""
    try:
        await session.close()
    except Exception as error:
        if not unavailable(error):
            raise
        await session.invalidate()


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


def make_engine(database_url: str, *, pool_size: int = 10, reader: bool = False) -> AsyncEngine:
    """The engine for writers (migrations, jobs, every write transaction), or with
    `reader` the one for read-only sessions. On SQLite the writer engine holds exactly one
    connection, whatever `pool_size` says; on PostgreSQL the two are alike."""
    # aiosqlite logs every statement *with its parameters* at DEBUG, whatever
    # hide_parameters says: never let it, or a debug log would hold personal data.
    logging.getLogger("aiosqlite").setLevel(logging.WARNING)
    url = async_url(database_url)
    ensure_sqlite_folder(url)
    # hide_parameters: bound values (names, narratives) never reach exception text or logs.
    if url.get_backend_name() == "sqlite":
        if reader:
            engine = create_async_engine(url, hide_parameters=True, pool_size=pool_size)
        else:
            # One connection, and a queue for it: a writer waits here for the one before
            # it to end its transaction (the session hands the connection back at commit
            # or rollback), in the order they came.
            engine = create_async_engine(
                url,
                hide_parameters=True,
                pool_size=1,
                max_overflow=0,
                pool_timeout=WRITE_WAIT_SECONDS,
            )
        _configure_sqlite(engine, reader=reader)
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
        # No JIT: the planner prices a page's correlated subqueries (one index lookup
        # each) as if they scanned and crosses jit_above_cost, and compiling then takes
        # longer than the query (docs/PERFORMANCE.md).
        connect_args={"server_settings": {"jit": "off"}},
    )


def _configure_sqlite(engine: AsyncEngine, *, reader: bool) -> None:
    """SQLAlchemy's documented recipe for SQLite transactions under aiosqlite: the
    driver's own BEGIN is turned off and ours is emitted on the "begin" event."""
    begin = "BEGIN" if reader else "BEGIN IMMEDIATE"

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Only another process's writer (a CLI command beside the server) can hold the
        # lock when ours asks for it: this process's writers take turns in the pool.
        cursor.execute(f"PRAGMA busy_timeout={WRITE_WAIT_SECONDS * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if reader:
            # A write through a reader would upgrade a read lock outside the turn: make
            # it an error at once rather than a rare "database is locked" under load.
            cursor.execute("PRAGMA query_only=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Writers BEGIN IMMEDIATE: they take the write lock up front, instead of failing
        # with "database is locked" when a read lock is upgraded. Readers BEGIN DEFERRED
        # (plain BEGIN): in WAL mode they never wait for a writer nor hold one up.
        connection.exec_driver_sql(begin)


class Database:
    """The engines and session factories every writer and reader of one app uses."""

    def __init__(self, engine: AsyncEngine, reader: AsyncEngine | None = None) -> None:
        self.engine = engine
        self.reader = reader or engine
        self.dialect = engine.dialect.name
        self.session_class: type[Session] = type("CarewatchSession", (Session,), {})
        # Sessions that write (the write path, jobs, the dispatcher's claims)...
        self.writer_sessions = async_sessionmaker(
            engine, expire_on_commit=False, sync_session_class=self.session_class
        )
        # ...and sessions that only read (pages, lists, lookups).
        self.sessions = async_sessionmaker(
            self.reader, expire_on_commit=False, sync_session_class=self.session_class
        )

    @classmethod
    def from_url(cls, database_url: str) -> Database:
        writer = make_engine(database_url)
        if writer.dialect.name != "sqlite":
            return cls(writer)
        return cls(writer, make_engine(database_url, reader=True))

    def on_before_commit(self, hook: SessionHook) -> None:
        event.listen(self.session_class, "before_commit", hook)

    def on_after_commit(self, hook: SessionHook) -> None:
        event.listen(self.session_class, "after_commit", hook)

    def on_after_rollback(self, hook: SessionHook) -> None:
        event.listen(self.session_class, "after_rollback", hook)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A writer session whose work is committed on success and rolled back on error."""
        async with self.writer_sessions() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.reader is not self.engine:
            await self.reader.dispose()


def is_postgres(session: AsyncSession | Session) -> bool:
    bind = session.get_bind()
    return bind.dialect.name == "postgresql"
