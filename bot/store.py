"""All SQL of the bot, over one aiosqlite connection in WAL mode."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import aiosqlite

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


def migration_scripts() -> list[tuple[int, str]]:
    """The numbered migrations shipped with the package, in order."""
    found = []
    for entry in resources.files(MIGRATIONS).iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            found.append((int(name[:4]), entry.read_text(encoding="utf-8")))
    return sorted(found)


class Store:
    """The bot's SQLite database: open(), typed methods, close()."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._db: aiosqlite.Connection | None = None

    @property
    def db(self) -> aiosqlite.Connection:
        """The open connection."""
        if self._db is None:
            raise RuntimeError("Store is not open")
        return self._db

    async def open(self) -> Store:
        """Connect, enable WAL and apply pending migrations."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = await aiosqlite.connect(self.path, isolation_level=None)
        self._db.row_factory = aiosqlite.Row
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
            self._db = None

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
        cur = await self.db.execute(
            "INSERT INTO turns (channel_id, guild_id, author_id, author_name, role, content, tokens,"
            " message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (channel_id, guild_id, author_id, author_name, role, content, tokens, message_id, time.time()),
        )
        return int(cur.lastrowid or 0)

    async def recent_turns(self, channel_id: int, budget: int, *, after: int = 0) -> list[Turn]:
        """The newest turns after `after` whose tokens fit in `budget`, oldest first."""
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
            async with self.db.execute(sql, args) as cur:
                rows = await cur.fetchall()
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
        async with self.db.execute(
            "SELECT channel_id, persona, summary, summary_upto, trim_noticed, docs_in_chat"
            " FROM channels WHERE channel_id = ?",
            (channel_id,),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return ChannelState(channel_id)
        docs = row[5]
        return ChannelState(
            row[0], row[1], row[2], row[3], bool(row[4]), None if docs is None else bool(docs)
        )

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
        await self.db.execute("BEGIN")
        try:
            await self.db.execute(
                "UPDATE documents SET status = 'ready', chunks = ? WHERE id = ?", (chunks, doc_id)
            )
            await self.db.executemany("DELETE FROM documents WHERE id = ?", [(r,) for r in replaced])
            await self.db.execute("COMMIT")
        except BaseException:
            await self.db.execute("ROLLBACK")
            raise

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

    async def record_usage(self, record: UsageRecord) -> None:
        """Store what one model call used."""
        await self.db.execute(
            "INSERT INTO usage (guild_id, user_id, feature, model, tokens_in, tokens_out, images, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.guild_id,
                record.user_id,
                record.feature,
                record.model,
                record.tokens_in,
                record.tokens_out,
                record.images,
                time.time(),
            ),
        )

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
        await self.db.execute("BEGIN")
        await self.db.executemany(
            "INSERT INTO turns (channel_id, guild_id, author_id, author_name, role, content, tokens,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [(*row, now) for row in rows],
        )
        await self.db.execute("COMMIT")

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
