"""The Store's shared connection: statements wait out transactions; queries come back in one trip."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiosqlite
import pytest

from bot.connection import Rows, SharedConnection


async def test_rows_read_like_a_cursor() -> None:
    rows = Rows([(1,), (2,), (3,)])
    assert await rows.fetchone() == (1,)
    assert await rows.fetchall() == [(2,), (3,)]
    assert await rows.fetchone() is None
    assert [row async for row in Rows([(4,), (5,)])] == [(4,), (5,)]


async def test_a_query_is_one_trip_and_a_write_keeps_its_counts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = await aiosqlite.connect(tmp_path / "db.sqlite3", isolation_level=None)
    idle = asyncio.Event()
    idle.set()
    shared = SharedConnection(db, idle)
    await shared.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    cur = await shared.execute("INSERT INTO t (v) VALUES ('a')")
    assert cur.lastrowid == 1 and cur.rowcount == 1
    trips = 0
    original = db._execute

    async def counted(*args: object, **kwargs: object) -> object:
        nonlocal trips
        trips += 1
        return await original(*args, **kwargs)

    monkeypatch.setattr(db, "_execute", counted)
    async with shared.execute("SELECT id, v FROM t WHERE v = ?", ("a",)) as rows:
        assert await rows.fetchone() == (1, "a")
    assert trips == 1
    await db.close()


async def test_a_statement_waits_while_a_transaction_is_open(tmp_path: Path) -> None:
    db = await aiosqlite.connect(tmp_path / "db.sqlite3", isolation_level=None)
    idle = asyncio.Event()
    shared = SharedConnection(db, idle)  # a transaction is open: idle is clear
    waiting = asyncio.ensure_future(shared.execute("SELECT 1"))
    await asyncio.sleep(0.05)
    assert not waiting.done()
    idle.set()
    assert await (await waiting).fetchone() == (1,)
    await db.close()
