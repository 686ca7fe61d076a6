"""All SQL of the bot, over one aiosqlite connection in WAL mode."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import aiosqlite

from bot.connection import SharedConnection

MIGRATIONS = "bot.migrations"


@dataclass(frozen=True, slots=True)
class Turn:
    """One stored message of a conversation."""

    id: int
    channel_id: int
    guild_id: int | None
    author_id: int
    author_name: str
    role: str
    content: str
    tokens: int
    created_at: float


@dataclass(frozen=True, slots=True)
class ChannelState:
    """A channel's persona and rolling summary."""

    channel_id: int
    persona: str | None = None
    summary: str = ""
    summary_upto: int = 0
    trim_noticed: bool = False
    docs_in_chat: bool | None = None


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """One indexed file and where it may be seen."""

    id: str
    shard: str
    scope: str
    scope_key: str
    guild_id: int | None
    channel_id: int | None
    name: str
    kind: str
    size: int
    sha256: str
    pages: int | None
    chunks: int
    uploader_id: int
    uploader_name: str
    status: str
    created_at: float


_DOC_COLUMNS = (
    "id, shard, scope, scope_key, guild_id, channel_id, name, kind, size, sha256, pages, chunks,"
    " uploader_id, uploader_name, status, created_at"
)


@dataclass(frozen=True, slots=True)
class UsageRecord:
    """What one model call cost, for budgets and /usage."""

    guild_id: int | None
    user_id: int | None
    feature: str
    model: str
    tokens_in: int = 0
    tokens_out: int = 0
    images: int = 0


_TURN_COLUMNS = "id, channel_id, guild_id, author_id, author_name, role, content, tokens, created_at"


@dataclass(frozen=True, slots=True)
class NewTurn:
    """A turn to store: who said what where, and what it costs in tokens."""

    channel_id: int
    guild_id: int | None
    author_id: int
    author_name: str
    role: str
    content: str
    tokens: int
    message_id: int | None = None


@dataclass(frozen=True, slots=True)
class TurnContext:
    """What answering a just-stored turn needs: the channel's state and the turns after its summary."""

    turn_id: int
    state: ChannelState
    pending_tokens: int  # every turn after the summary
    recent: list[Turn]  # the newest of those that fit the budget, oldest first


# The turn functions below run in the database thread (Store.db.run), so a turn costs one trip there
# instead of one per statement: under load each trip waits for the busy event loop (bench/load.py).


def _insert_turn(conn: sqlite3.Connection, new: NewTurn) -> int:
    cur = conn.execute(
        "INSERT INTO turns (channel_id, guild_id, author_id, author_name, role, content, tokens,"
        " message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (new.channel_id, new.guild_id, new.author_id, new.author_name, new.role, new.content, new.tokens,
         new.message_id, time.time()),
    )
    return int(cur.lastrowid or 0)


def _channel_state(conn: sqlite3.Connection, channel_id: int) -> ChannelState:
    row = conn.execute(
        "SELECT channel_id, persona, summary, summary_upto, trim_noticed, docs_in_chat"
        " FROM channels WHERE channel_id = ?",
        (channel_id,),
    ).fetchone()
    if row is None:
        return ChannelState(channel_id)
    docs = row[5]
    return ChannelState(row[0], row[1], row[2], row[3], bool(row[4]), None if docs is None else bool(docs))


def _recent_turns(conn: sqlite3.Connection, channel_id: int, budget: int, after: int) -> list[Turn]:
    picked: list[Turn] = []
    used = 0
    before = None
    batch = 64
    while True:
        sql = f"SELECT {_TURN_COLUMNS} FROM turns WHERE channel_id = ? AND id > ?"
        args: list[int] = [channel_id, after]
        if before is not None:
            sql += " AND id < ?"
            args.append(before)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(batch)
        rows = conn.execute(sql, args).fetchall()
        for row in rows:
            turn = Turn(*row)
            if used + turn.tokens > budget:
                picked.reverse()
                return picked
            used += turn.tokens
            picked.append(turn)
        if len(rows) < batch:
            picked.reverse()
            return picked
        before = rows[-1][0]
        batch = min(batch * 4, 4096)


def _open_turn(conn: sqlite3.Connection, new: NewTurn, budget: int) -> TurnContext:
    turn_id = _insert_turn(conn, new)
    state = _channel_state(conn, new.channel_id)
    (pending,) = conn.execute(
        "SELECT COALESCE(SUM(tokens), 0) FROM turns WHERE channel_id = ? AND id > ?",
        (new.channel_id, state.summary_upto),
    ).fetchone()
    recent = _recent_turns(conn, new.channel_id, budget, state.summary_upto)
    return TurnContext(turn_id, state, int(pending), recent)


@dataclass(frozen=True, slots=True)
class GenerationRecord:
    """One image generation, edit or variation: who, where, what and with which model."""

    id: int
    guild_id: int | None
    channel_id: int
    user_id: int
    kind: str
    prompt: str
    model: str
    size: str
    quality: str | None
    count: int
    created_at: float


_GENERATION_COLUMNS = (
    "id, guild_id, channel_id, user_id, kind, prompt, model, size, quality, count, created_at"
)


@dataclass(frozen=True, slots=True)
class UserFootprint:
    """What the store holds about one user (or removed, after forget_user)."""

    turns: int = 0
    answers: int = 0
    summaries: int = 0
    usage_rows: int = 0
    images: int = 0
    documents: int = 0


def migration_scripts() -> list[tuple[int, str]]:
    """The numbered migrations shipped with the package, in order."""
    found = []
    for entry in resources.files(MIGRATIONS).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)


class Store:
    """The bot's SQLite database: open(), typed methods, close().

    A write of several statements goes through `transaction()` and uses the connection it yields.
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None
        self._shared: SharedConnection | None = None
        self._idle = asyncio.Event()
        self._idle.set()
        self._tx_lock = asyncio.Lock()

    @property
    def db(self) -> aiosqlite.Connection:
        """The open connection, for single statements."""
        if self._shared is None:
            raise RuntimeError("Store is not open")
        return self._shared  # type: ignore[return-value]  # the same methods, gated

    async def open(self) -> Store:
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
                try:
                    yield db
                except BaseException:
                    if db.in_transaction:
                        await db.execute("ROLLBACK")
                    raise
                await db.execute("COMMIT")
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

    # --- meta -------------------------------------------------------------------------------

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

    # --- turns ------------------------------------------------------------------------------

    async def add_turn(
        self,
        *,
        channel_id: int,
        guild_id: int | None,
        author_id: int,
        author_name: str,
        role: str,
        content: str,
        tokens: int,
        message_id: int | None = None,
    ) -> int:
        """Append one turn to a channel's memory; returns its id."""
        new = NewTurn(channel_id, guild_id, author_id, author_name, role, content, tokens, message_id)
        return await self.db.run(_insert_turn, new)

    async def open_turn(self, new: NewTurn, budget: int) -> TurnContext:
        """Store a user's turn and read what answering it needs (turns within `budget`) in one trip."""
        return await self.db.run(_open_turn, new, budget)

    async def recent_turns(self, channel_id: int, budget: int, *, after: int = 0) -> list[Turn]:
        """The newest turns after `after` whose tokens fit in `budget`, oldest first."""
        return await self.db.run(_recent_turns, channel_id, budget, after)

    async def turns_between(self, channel_id: int, after: int, upto: int) -> list[Turn]:
        """Turns with after < id <= upto, oldest first."""
        async with self.db.execute(
            f"SELECT {_TURN_COLUMNS} FROM turns WHERE channel_id = ? AND id > ? AND id <= ? ORDER BY id",
            (channel_id, after, upto),
        ) as cur:
            return [Turn(*row) for row in await cur.fetchall()]

    async def all_turns(self, channel_id: int) -> list[Turn]:
        """Every turn of a channel, oldest first (tests, export and the naive baseline)."""
        async with self.db.execute(
            f"SELECT {_TURN_COLUMNS} FROM turns WHERE channel_id = ? ORDER BY id", (channel_id,)
        ) as cur:
            return [Turn(*row) for row in await cur.fetchall()]

    async def unsummarized_tokens(self, channel_id: int, after: int) -> int:
        """Tokens in the turns not yet folded into the summary."""
        async with self.db.execute(
            "SELECT COALESCE(SUM(tokens), 0) FROM turns WHERE channel_id = ? AND id > ?", (channel_id, after)
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def forget_channel(self, channel_id: int) -> int:
        """Delete a channel's turns and summary (the persona stays); returns turns deleted."""
        cur = await self.db.execute("DELETE FROM turns WHERE channel_id = ?", (channel_id,))
        await self.db.execute(
            "UPDATE channels SET summary = '', summary_upto = 0, trim_noticed = 0 WHERE channel_id = ?",
            (channel_id,),
        )
        return cur.rowcount

    # --- channel state ----------------------------------------------------------------------

    async def channel_state(self, channel_id: int) -> ChannelState:
        """A channel's persona and summary (defaults if never set)."""
        return await self.db.run(_channel_state, channel_id)

    async def _upsert_channel(
        self, channel_id: int, guild_id: int | None, column: str, value: object
    ) -> None:
        await self.db.execute(
            f"INSERT INTO channels (channel_id, guild_id, {column}) VALUES (?, ?, ?)"
            f" ON CONFLICT(channel_id) DO UPDATE SET {column} = excluded.{column}",
            (channel_id, guild_id, value),
        )

    async def set_persona(self, channel_id: int, guild_id: int | None, persona: str | None) -> None:
        """Set or clear a channel's system prompt."""
        await self._upsert_channel(channel_id, guild_id, "persona", persona)

    async def set_docs_in_chat(self, channel_id: int, guild_id: int | None, enabled: bool | None) -> None:
        """Whether chat in this channel draws on documents (None: server default)."""
        await self._upsert_channel(channel_id, guild_id, "docs_in_chat", enabled)

    async def set_summary(self, channel_id: int, guild_id: int | None, summary: str, upto: int) -> None:
        """Replace the rolling summary, covering turns up to id `upto`."""
        await self.db.execute(
            "INSERT INTO channels (channel_id, guild_id, summary, summary_upto) VALUES (?, ?, ?, ?)"
            " ON CONFLICT(channel_id) DO UPDATE SET summary = excluded.summary,"
            " summary_upto = excluded.summary_upto",
            (channel_id, guild_id, summary, upto),
        )

    async def mark_trim_noticed(self, channel_id: int, guild_id: int | None) -> None:
        """Remember that the channel was told its memory is being summarized."""
        await self._upsert_channel(channel_id, guild_id, "trim_noticed", 1)

    # --- documents --------------------------------------------------------------------------

    async def add_document(self, doc: DocumentRecord) -> None:
        """Record a document (normally with status 'indexing' until its chunks are in)."""
        await self.db.execute(
            f"INSERT INTO documents ({_DOC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                doc.id,
                doc.shard,
                doc.scope,
                doc.scope_key,
                doc.guild_id,
                doc.channel_id,
                doc.name,
                doc.kind,
                doc.size,
                doc.sha256,
                doc.pages,
                doc.chunks,
                doc.uploader_id,
                doc.uploader_name,
                doc.status,
                doc.created_at,
            ),
        )

    async def finish_document(self, doc_id: str, chunks: int, replaced: list[str]) -> None:
        """Mark a document ready and drop the records it replaces, in one transaction."""
        async with self.transaction() as db:
            await db.execute(
                "UPDATE documents SET status = 'ready', chunks = ? WHERE id = ?", (chunks, doc_id)
            )
            await db.executemany("DELETE FROM documents WHERE id = ?", [(r,) for r in replaced])

    async def delete_document(self, doc_id: str) -> None:
        """Forget a document record."""
        await self.db.execute("DELETE FROM documents WHERE id = ?", (doc_id,))

    async def document(self, doc_id: str) -> DocumentRecord | None:
        """One document by id."""
        async with self.db.execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE id = ?", (doc_id,)) as cur:
            row = await cur.fetchone()
        return DocumentRecord(*row) if row else None

    async def documents(
        self,
        scope_keys: Iterable[str],
        *,
        name: str | None = None,
        sha256: str | None = None,
        status: str | None = "ready",
    ) -> list[DocumentRecord]:
        """Documents in any of the scopes, optionally by exact name or content hash, newest first."""
        keys = list(scope_keys)
        if not keys:
            return []
        sql = f"SELECT {_DOC_COLUMNS} FROM documents WHERE scope_key IN ({','.join('?' * len(keys))})"
        args: list[object] = list(keys)
        for column, value in (("name", name), ("sha256", sha256), ("status", status)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        async with self.db.execute(sql + " ORDER BY created_at DESC", args) as cur:
            return [DocumentRecord(*row) for row in await cur.fetchall()]

    async def unfinished_documents(self) -> list[DocumentRecord]:
        """Documents whose ingest never finished (a crash or a kill mid-way)."""
        async with self.db.execute(f"SELECT {_DOC_COLUMNS} FROM documents WHERE status = 'indexing'") as cur:
            return [DocumentRecord(*row) for row in await cur.fetchall()]

    # --- usage ------------------------------------------------------------------------------

    async def record_usage(self, record: UsageRecord, *, at: float | None = None) -> int:
        """Store what one model call used, now or `at` (tests on a controlled clock); returns its id."""
        cur = await self.db.execute(
            "INSERT INTO usage (guild_id, user_id, feature, model, tokens_in, tokens_out, images, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (record.guild_id, record.user_id, record.feature, record.model, record.tokens_in,
             record.tokens_out, record.images, time.time() if at is None else at),
        )
        return int(cur.lastrowid or 0)

    async def usage_totals(
        self, *, since: float, user_id: int | None = None, guild_id: int | None = None
    ) -> tuple[int, int, int]:
        """Tokens in, tokens out and images since a time, for a user and/or a server."""
        clauses, args = ["created_at >= ?"], [since]
        if user_id is not None:
            clauses.append("user_id = ?")
            args.append(user_id)
        if guild_id is not None:
            clauses.append("guild_id = ?")
            args.append(guild_id)
        async with self.db.execute(
            "SELECT COALESCE(SUM(tokens_in), 0), COALESCE(SUM(tokens_out), 0), COALESCE(SUM(images), 0)"
            f" FROM usage WHERE {' AND '.join(clauses)}",
            args,
        ) as cur:
            row = await cur.fetchone()
        return (int(row[0]), int(row[1]), int(row[2])) if row else (0, 0, 0)

    async def bulk_add_turns(self, rows: Iterable[tuple[int, int | None, int, str, str, str, int]]) -> None:
        """Insert many turns in one transaction (benchmarks and imports)."""
        now = time.time()
        async with self.transaction() as db:
            await db.executemany(
                "INSERT INTO turns (channel_id, guild_id, author_id, author_name, role, content, tokens,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(*row, now) for row in rows],
            )

    # --- image generations ------------------------------------------------------------------

    async def add_generation(
        self,
        *,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        kind: str,
        prompt: str,
        model: str,
        size: str,
        quality: str | None,
        count: int,
    ) -> int:
        """Record one image generation, edit or variation; returns its id."""
        cur = await self.db.execute(
            "INSERT INTO image_generations (guild_id, channel_id, user_id, kind, prompt, model, size,"
            " quality, count, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (guild_id, channel_id, user_id, kind, prompt, model, size, quality, count, time.time()),
        )
        return int(cur.lastrowid or 0)

    async def generation(self, generation_id: int) -> GenerationRecord | None:
        """One image generation by id."""
        async with self.db.execute(
            f"SELECT {_GENERATION_COLUMNS} FROM image_generations WHERE id = ?", (generation_id,)
        ) as cur:
            row = await cur.fetchone()
        return GenerationRecord(*row) if row else None

    async def generations(
        self, *, since: float = 0.0, user_id: int | None = None, guild_id: int | None = None
    ) -> list[GenerationRecord]:
        """Image generations since a time, by a user and/or in a server, oldest first."""
        sql = f"SELECT {_GENERATION_COLUMNS} FROM image_generations WHERE created_at >= ?"
        args: list[object] = [since]
        for column, value in (("user_id", user_id), ("guild_id", guild_id)):
            if value is not None:
                sql += f" AND {column} = ?"
                args.append(value)
        async with self.db.execute(sql + " ORDER BY id", args) as cur:
            return [GenerationRecord(*row) for row in await cur.fetchall()]

    # --- data deletion: /forget-me and `teambot purge` ----------------------------------------

    async def documents_uploaded_by(self, user_id: int) -> list[DocumentRecord]:
        """Ready documents a user uploaded, anywhere, newest first."""
        async with self.db.execute(
            f"SELECT {_DOC_COLUMNS} FROM documents WHERE uploader_id = ? AND status = 'ready'"
            " ORDER BY created_at DESC",
            (user_id,),
        ) as cur:
            return [DocumentRecord(*row) for row in await cur.fetchall()]

    async def _count(self, sql: str, args: tuple[object, ...]) -> int:
        async with self.db.execute(sql, args) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def user_footprint(self, user_id: int) -> UserFootprint:
        """How much is stored about a user: turns, answers, summaries, usage, images, documents."""
        return UserFootprint(
            turns=await self._count(
                "SELECT COUNT(*) FROM turns WHERE author_id = ? AND role = 'user'", (user_id,)
            ),
            answers=await self._count(f"SELECT COUNT(*) FROM turns WHERE id IN ({_ANSWERS_TO})", (user_id,)),
            summaries=await self._count(f"SELECT COUNT(*) FROM ({_SUMMARIES_WITH})", (user_id, user_id)),
            usage_rows=await self._count("SELECT COUNT(*) FROM usage WHERE user_id = ?", (user_id,)),
            images=await self._count("SELECT COUNT(*) FROM image_generations WHERE user_id = ?", (user_id,)),
            documents=await self._count(
                "SELECT COUNT(*) FROM documents WHERE uploader_id = ? AND status = 'ready'", (user_id,)
            ),
        )

    async def forget_user(self, user_id: int) -> UserFootprint:
        """Delete a user's turns, answers, summaries with them and image records; anonymise their usage."""
        # One transaction: all of it or none. Documents are the Library's to remove (vectors live there).
        async with self.transaction() as db:
            async with db.execute(_SUMMARIES_WITH, (user_id, user_id)) as cur:
                channels = [row[0] for row in await cur.fetchall()]
            # Cleared summaries are rebuilt by the next fold from the turns that remain.
            await db.executemany(
                "UPDATE channels SET summary = '', summary_upto = 0, trim_noticed = 0 WHERE channel_id = ?",
                [(c,) for c in channels],
            )
            await db.execute(
                "UPDATE channels SET persona_set_by = NULL WHERE persona_set_by = ?", (user_id,)
            )
            answers = await db.execute(f"DELETE FROM turns WHERE id IN ({_ANSWERS_TO})", (user_id,))
            turns = await db.execute(
                "DELETE FROM turns WHERE author_id = ? AND role = 'user'", (user_id,)
            )
            # Hourly anonymous totals keep every server's day and month figures, in any whole-hour timezone.
            await db.execute(
                "INSERT INTO usage (guild_id, user_id, feature, model, tokens_in, tokens_out, images,"
                " created_at) SELECT guild_id, NULL, feature, model, SUM(tokens_in), SUM(tokens_out),"
                " SUM(images), CAST(created_at / 3600 AS INTEGER) * 3600 FROM usage WHERE user_id = ?"
                " GROUP BY guild_id, feature, model, CAST(created_at / 3600 AS INTEGER)",
                (user_id,),
            )
            usage = await db.execute("DELETE FROM usage WHERE user_id = ?", (user_id,))
            images = await db.execute("DELETE FROM image_generations WHERE user_id = ?", (user_id,))
        return UserFootprint(turns.rowcount, answers.rowcount, len(channels), usage.rowcount, images.rowcount)

    # --- team settings and usage reports ------------------------------------------------------

    async def guild_settings(self, guild_id: int) -> dict[str, str]:
        """The settings an admin changed on a server, by key (the rest are the environment's)."""
        sql = "SELECT key, value FROM guild_settings WHERE guild_id = ?"
        async with self.db.execute(sql, (guild_id,)) as cur:
            return {row[0]: row[1] for row in await cur.fetchall()}

    async def change_guild_setting(
        self, guild_id: int, key: str, value: str | None, *, user_id: int, user_name: str
    ) -> str | None:
        """Set one server setting (None: back to the default) and log the change; returns the old value."""
        now = time.time()
        async with self.transaction() as db:
            async with db.execute(
                "SELECT value FROM guild_settings WHERE guild_id = ? AND key = ?", (guild_id, key)
            ) as cur:
                row = await cur.fetchone()
            if value is None:
                await db.execute(
                    "DELETE FROM guild_settings WHERE guild_id = ? AND key = ?", (guild_id, key)
                )
            else:
                await db.execute(
                    "INSERT INTO guild_settings (guild_id, key, value, updated_by, updated_at)"
                    " VALUES (?, ?, ?, ?, ?)"
                    " ON CONFLICT(guild_id, key) DO UPDATE SET value = excluded.value,"
                    " updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                    (guild_id, key, value, user_id, now),
                )
            await db.execute(
                "INSERT INTO settings_log (guild_id, user_id, user_name, key, old_value, new_value,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (guild_id, user_id, user_name, key, row[0] if row else None, value, now),
            )
        return row[0] if row else None

    async def settings_log(self, guild_id: int, limit: int = 10) -> list[SettingChange]:
        """A server's latest setting changes, newest first."""
        async with self.db.execute(
            "SELECT user_id, user_name, key, old_value, new_value, created_at FROM settings_log"
            " WHERE guild_id = ? ORDER BY id DESC LIMIT ?",
            (guild_id, limit),
        ) as cur:
            return [SettingChange(*row) for row in await cur.fetchall()]

    async def usage_day_and_month(
        self, *, guild_id: int | None, user_id: int | None, day_start: float, month_start: float
    ) -> tuple[UsageTotals, UsageTotals, int]:
        """Usage today and this month in one server (None: DMs), for one user or everyone there,
        and the newest usage row id at that moment (what the totals include)."""
        sql = (
            "SELECT COALESCE(SUM(CASE WHEN created_at >= ? THEN tokens_in END), 0),"
            " COALESCE(SUM(CASE WHEN created_at >= ? THEN tokens_out END), 0),"
            " COALESCE(SUM(CASE WHEN created_at >= ? THEN images END), 0),"
            " COALESCE(SUM(tokens_in), 0), COALESCE(SUM(tokens_out), 0), COALESCE(SUM(images), 0),"
            " (SELECT COALESCE(MAX(id), 0) FROM usage)"
            " FROM usage WHERE guild_id IS ? AND created_at >= ?"
        )
        args: list[object] = [day_start, day_start, day_start, guild_id, min(day_start, month_start)]
        if user_id is not None:
            sql += " AND user_id = ?"
            args.append(user_id)
        async with self.db.execute(sql, args) as cur:
            row = await cur.fetchone()
        values = [int(v) for v in row] if row else [0] * 7
        return UsageTotals(*values[:3]), UsageTotals(*values[3:6]), values[6]

    async def usage_by_day(
        self, *, guild_id: int | None, user_id: int | None, start: float, days: int
    ) -> list[UsageTotals]:
        """Usage per 24-hour day from `start`, `days` entries, in one server (None: DMs)."""
        sql = (
            "SELECT CAST((created_at - ?) / 86400 AS INTEGER) AS day, SUM(tokens_in), SUM(tokens_out),"
            " SUM(images) FROM usage WHERE guild_id IS ? AND created_at >= ? AND created_at < ?"
        )
        args: list[object] = [start, guild_id, start, start + days * 86400]
        if user_id is not None:
            sql += " AND user_id = ?"
            args.append(user_id)
        series = [UsageTotals() for _ in range(days)]
        async with self.db.execute(sql + " GROUP BY day", args) as cur:
            for day, tokens_in, tokens_out, images in await cur.fetchall():
                series[int(day)] = UsageTotals(int(tokens_in), int(tokens_out), int(images))
        return series

    async def documents_added(self, *, guild_id: int | None, uploader_id: int | None, since: float) -> int:
        """Ready documents added since a time in one server (None: DMs), by one user or anyone."""
        sql = "SELECT COUNT(*) FROM documents WHERE guild_id IS ? AND created_at >= ? AND status = 'ready'"
        args: list[object] = [guild_id, since]
        if uploader_id is not None:
            sql += " AND uploader_id = ?"
            args.append(uploader_id)
        async with self.db.execute(sql, args) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row else 0

    async def has_documents(self, scope_keys: Iterable[str]) -> bool:
        """Whether any ready document is in one of the scopes."""
        keys = list(scope_keys)
        if not keys:
            return False
        sql = f"SELECT 1 FROM documents WHERE scope_key IN ({','.join('?' * len(keys))}) AND status = 'ready'"
        async with self.db.execute(sql + " LIMIT 1", keys) as cur:
            return await cur.fetchone() is not None


@dataclass(frozen=True, slots=True)
class SettingChange:
    """One logged change of a server setting: who, what, when."""

    user_id: int
    user_name: str
    key: str
    old_value: str | None
    new_value: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class UsageTotals:
    """Tokens in, tokens out and images over some period."""

    tokens_in: int = 0
    tokens_out: int = 0
    images: int = 0

    @property
    def tokens(self) -> int:
        """Tokens in and out together, as budgets count them."""
        return self.tokens_in + self.tokens_out


# The model's reply to each of a user's turns: the next turn in that channel, when it is the bot's.
_ANSWERS_TO = (
    "SELECT a.id FROM turns u JOIN turns a ON a.id = (SELECT MIN(n.id) FROM turns n"
    " WHERE n.channel_id = u.channel_id AND n.id > u.id)"
    " WHERE u.author_id = ? AND u.role = 'user' AND a.role = 'assistant'"
)
# Channels whose rolling summary was written from a user's turns, and their DM channels' state.
_SUMMARIES_WITH = (
    "SELECT c.channel_id FROM channels c WHERE (c.summary != '' AND EXISTS (SELECT 1 FROM turns t"
    " WHERE t.channel_id = c.channel_id AND t.author_id = ? AND t.role = 'user' AND t.id <= c.summary_upto))"
    " OR (c.guild_id IS NULL AND c.summary != '' AND EXISTS (SELECT 1 FROM turns t"
    " WHERE t.channel_id = c.channel_id AND t.author_id = ? AND t.role = 'user'))"
)
