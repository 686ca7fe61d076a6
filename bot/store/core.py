"""The store's connection: open and close, transactions, migrations and meta values."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources
from pathlib import Path
from typing import Self

import aiosqlite

from bot.connection import SharedConnection
from bot.store.window import Windows

MIGRATIONS = "bot.migrations"


def migration_scripts() -> list[tuple[int, str]]:
    """The numbered migrations shipped with the package, in order."""
    found = []
    for entry in resources.files(MIGRATIONS).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)


class StoreCore:
    """The connection every area of the Store shares: open(), close(), transaction() and migrations."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._shared: SharedConnection | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._tx_lock = asyncio.Lock()
        self._windows = Windows()  # channels' recent turns, touched only in the database thread

    @property
    def db(self) -> aiosqlite.Connection:
        """The open connection, for single statements."""
        if self._shared is None:
            raise RuntimeError("Store is not open")
        return self._shared  # type: ignore[return-value]  # the same methods, gated

    async def open(self) -> Self:
        """Connect, enable WAL and apply pending migrations."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        self._db.row_factory = aiosqlite.Row
        self._shared = SharedConnection(self._db, self._idle)
        await self._db.execute("PRAGMA journal_mode=WAL")
        await self._db.execute("PRAGMA synchronous=NORMAL")
        await self._db.execute("PRAGMA foreign_keys=ON")
        await self._db.execute("PRAGMA busy_timeout=5000")
        await self._migrate()
        return self

    async def close(self) -> None:
        """Close the connection if open."""
        if self._db is not None:
            await self._db.close()
            self._db = self._shared = None

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """The connection inside one write transaction, alone on it: committed at the end, or rolled back."""
        async with self._tx_lock:
            db = self._db
            if db is None:
                raise RuntimeError("Store is not open")
            self._idle.clear()
            try:
                await db.execute("BEGIN IMMEDIATE")
                yield db
                await db.execute("COMMIT")
            except BaseException:
                # A statement already sent runs in the database thread even if this coroutine is cancelled
                # while it waits (a BEGIN, then, opens a transaction after all): the rollback goes in the
                # same queue behind it, and ends whatever is open once it has run.
                await db._execute(_rollback_if_open, db._conn)
                raise
            finally:
                self._idle.set()

    async def _migrate(self) -> None:
        version = await self.schema_version()
        for number, script in migration_scripts():
            if number <= version:
                continue
            # One transaction per migration: a failure or crash leaves the previous version intact.
            try:
                await self.db.executescript(f"BEGIN;\n{script}\nPRAGMA user_version = {number};\nCOMMIT;")
            except aiosqlite.Error:
                if self.db.in_transaction:
                    await self.db.execute("ROLLBACK")
                raise

    async def schema_version(self) -> int:
        """The applied migration number."""
        async with self.db.execute("PRAGMA user_version") as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def integrity_ok(self) -> bool:
        """Whether SQLite's integrity check passes."""
        async with self.db.execute("PRAGMA integrity_check") as cur:
            row = await cur.fetchone()
        return bool(row) and row[0] == "ok"

    async def get_meta(self, key: str) -> str | None:
        """A stored value by key."""
        async with self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)) as cur:
            row = await cur.fetchone()
        return row[0] if row else None

    async def set_meta(self, key: str, value: str) -> None:
        """Store a value by key."""
        await self.db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?)"
            " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )


def _rollback_if_open(conn: sqlite3.Connection) -> None:
    """In the database thread: roll back the open transaction, if any."""
    if conn.in_transaction:
        conn.rollback()
