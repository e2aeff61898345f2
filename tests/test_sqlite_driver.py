"""The one-hand-off aiosqlite adapter answers every kind of statement as SQLAlchemy's own
does: rows, counts, ids, errors, many-row executes, and a transaction rolled back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiosqlite
import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import create_async_engine

from app import sqlite_driver
from app.db import make_engine


async def _answers(url: str, **engine_options: Any) -> list[Any]:
    engine = create_async_engine(url, **engine_options)
    seen: list[Any] = []
    try:
        async with engine.begin() as connection:
            await connection.execute(
                text("CREATE TABLE item (id INTEGER PRIMARY KEY, name TEXT UNIQUE, n INT)")
            )
            inserted = await connection.execute(text("INSERT INTO item (name, n) VALUES ('a', 1)"))
            seen.append(("lastrowid", inserted.lastrowid, inserted.rowcount))
            many = await connection.execute(
                text("INSERT INTO item (name, n) VALUES (:name, :n)"),
                [{"name": f"b{i}", "n": i} for i in range(5)],
            )
            seen.append(("executemany", many.rowcount))
            returned = await connection.execute(
                text("INSERT INTO item (name, n) VALUES ('c', 9) RETURNING id, name")
            )
            seen.append(("returning", [tuple(row) for row in returned]))
            updated = await connection.execute(text("UPDATE item SET n = n + 1 WHERE n < 3"))
            seen.append(("updated", updated.rowcount))
            rows = await connection.execute(text("SELECT name, n FROM item ORDER BY id"))
            seen.append(("keys", list(rows.keys())))
            seen.append(("rows", [tuple(row) for row in rows]))
            empty = await connection.execute(text("SELECT name FROM item WHERE n > 100"))
            seen.append(("empty", empty.all()))
            with pytest.raises(exc.IntegrityError) as duplicate:
                await connection.execute(text("INSERT INTO item (name, n) VALUES ('a', 2)"))
            seen.append(("error", type(duplicate.value.orig).__name__))
        async with engine.connect() as connection:
            transaction = await connection.begin()
            await connection.execute(text("DELETE FROM item"))
            await transaction.rollback()
            count = await connection.scalar(text("SELECT count(*) FROM item"))
            seen.append(("after rollback", count))
    finally:
        await engine.dispose()
    return seen


async def test_one_hand_off_answers_as_the_stock_adapter_does(tmp_path: Path) -> None:
    stock = await _answers(f"sqlite+aiosqlite:///{tmp_path / 'stock.db'}")
    one_hop = await _answers(
        f"sqlite+aiosqlite:///{tmp_path / 'one_hop.db'}", module=sqlite_driver.dbapi()
    )
    assert one_hop == stock
    assert ("after rollback", 7) in one_hop


async def test_the_service_engine_uses_it(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'service.db'}")
    try:
        async with engine.connect() as connection:
            raw = await connection.get_raw_connection()
            assert isinstance(raw.dbapi_connection, sqlite_driver.OneHopConnection)
    finally:
        await engine.dispose()


async def test_a_connection_handed_back_idle_is_not_rolled_back_on_its_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The pool rolls back every connection it gets back; with no transaction open there
    is nothing to roll back, so nothing crosses to the connection's thread. An open
    transaction is still rolled back there."""
    engine = make_engine(f"sqlite:///{tmp_path / 'service.db'}")
    hand_offs: list[str] = []
    real_execute = aiosqlite.Connection._execute

    async def counted(self: aiosqlite.Connection, fn: Any, *args: Any, **kwargs: Any) -> Any:
        hand_offs.append(getattr(fn, "__name__", "?"))
        return await real_execute(self, fn, *args, **kwargs)  # type: ignore[no-untyped-call]

    try:
        async with engine.begin() as connection:
            await connection.execute(text("CREATE TABLE item (id INTEGER PRIMARY KEY)"))
        monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
        async with engine.begin() as connection:
            await connection.execute(text("INSERT INTO item DEFAULT VALUES"))
        # BEGIN, the insert and COMMIT; the pool's rollback on return crossed nothing.
        assert hand_offs == ["_run", "_run", "commit"]

        async with engine.connect() as connection:
            transaction = await connection.begin()
            await connection.execute(text("INSERT INTO item DEFAULT VALUES"))
            await transaction.rollback()
            assert await connection.scalar(text("SELECT count(*) FROM item")) == 1
    finally:
        await engine.dispose()
