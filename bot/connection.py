"""The Store's connection as single statements use it: no statement joins another coroutine's transaction,
and a query's rows come back in one trip to the database thread."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any, TypeVar

import aiosqlite
from aiosqlite.context import contextmanager

T = TypeVar("T")


class Rows:
    """A query's rows, already fetched, read like a cursor."""

    def __init__(self, rows: list[Any]) -> None:
        self._rows = rows
        self._next = 0

    async def fetchone(self) -> Any:
        """The next row, or None."""
        if self._next >= len(self._rows):
            return None
        self._next += 1
        return self._rows[self._next - 1]

    async def fetchall(self) -> list[Any]:
        """The rows not read yet."""
        rows, self._next = self._rows[self._next :], len(self._rows)
        return rows

    async def close(self) -> None:
        """Nothing to release."""

    def __aiter__(self) -> AsyncIterator[Any]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[Any]:
        while (row := await self.fetchone()) is not None:
            yield row


class SharedConnection:
    """The connection as single statements use it: each waits until no transaction is open.

    Coroutines share one connection, so a statement sent while another coroutine's transaction is open
    would run inside it, and be rolled back, or lost in a crash, with it.
    """

    def __init__(self, db: aiosqlite.Connection, idle: asyncio.Event) -> None:
        self._db = db
        self._idle = idle

    # No await between the wait and the send: the statement is queued before any transaction can begin.
    @contextmanager
    async def execute(self, sql: str, parameters: Iterable[Any] | None = None) -> aiosqlite.Cursor | Rows:
        """Run one statement outside any transaction; a query's rows come back with it."""
        await self._idle.wait()
        if sql.lstrip()[:6].upper() in ("SELECT", "PRAGMA"):
            # One trip to the database thread instead of three (execute, fetch, close): under load each
            # trip waits for the busy event loop and the GIL (bench/load.py).
            return Rows(list(await self._db.execute_fetchall(sql, parameters)))
        return await self._db.execute(sql, parameters)

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Call `fn(connection, *args)` in the database thread outside any transaction: one trip for many."""
        await self._idle.wait()
        # aiosqlite's own way into its thread (pinned in constraints.txt; tests/bot/test_store.py covers it).
        return await self._db._execute(fn, self._db._conn, *args)

    @contextmanager
    async def executemany(self, sql: str, parameters: Iterable[Iterable[Any]]) -> aiosqlite.Cursor:
        """Run one statement for many rows outside any transaction."""
        await self._idle.wait()
        return await self._db.executemany(sql, parameters)

    @contextmanager
    async def executescript(self, script: str) -> aiosqlite.Cursor:
        """Run a script outside any transaction."""
        await self._idle.wait()
        return await self._db.executescript(script)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._db, name)
