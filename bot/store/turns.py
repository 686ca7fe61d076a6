"""Turns (a channel's stored messages) and channel state (persona, rolling summary, switches)."""

from __future__ import annotations

import sqlite3
import time
from collections import deque
from collections.abc import Iterable

from bot.store.core import StoreCore
from bot.store.records import _TURN_COLUMNS, ChannelState, NewTurn, Turn, TurnContext, UsageRecord
from bot.store.usage import _insert_usage
from bot.store.window import Window, Windows

# The turn functions below run in the database thread (Store.db.run), so a turn costs one trip there
# instead of one per statement: under load each trip waits for the busy event loop (bench/load.py).


def _insert_turn(conn: sqlite3.Connection, new: NewTurn) -> Turn:
    now = time.time()
    cur = conn.execute(
        "INSERT INTO turns (channel_id, guild_id, author_id, author_name, role, content, tokens,"
        " message_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (new.channel_id, new.guild_id, new.author_id, new.author_name, new.role, new.content, new.tokens,
         new.message_id, now),
    )
    return Turn(int(cur.lastrowid or 0), new.channel_id, new.guild_id, new.author_id, new.author_name,
                new.role, new.content, new.tokens, now)


def _add_turn(conn: sqlite3.Connection, new: NewTurn, windows: Windows) -> int:
    turn = _insert_turn(conn, new)
    windows.added(turn)
    return turn.id


def _add_reply(
    conn: sqlite3.Connection, new: NewTurn, usage: UsageRecord | None, at: float, windows: Windows
) -> tuple[int, int | None]:
    conn.execute("BEGIN IMMEDIATE")
    try:
        turn = _insert_turn(conn, new)
        usage_id = None if usage is None else _insert_usage(conn, usage, at)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    windows.added(turn)
    return turn.id, usage_id


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


def _open_turn(conn: sqlite3.Connection, new: NewTurn, budget: int, windows: Windows) -> TurnContext:
    turn = _insert_turn(conn, new)
    state = _channel_state(conn, new.channel_id)
    window = windows.current(conn, new.channel_id, state.summary_upto, budget)
    if window is not None:
        window.add(turn)
    else:  # not kept, or changed by a fold or a budget: read it, the new turn included
        (pending,) = conn.execute(
            "SELECT COALESCE(SUM(tokens), 0) FROM turns WHERE channel_id = ? AND id > ?",
            (new.channel_id, state.summary_upto),
        ).fetchone()
        recent = _recent_turns(conn, new.channel_id, budget, state.summary_upto)
        tokens = sum(t.tokens for t in recent)
        window = Window(state.summary_upto, budget, deque(recent), tokens, int(pending))
        windows.keep(new.channel_id, window)
    return TurnContext(turn.id, state, window.pending, list(window.turns))


def _forget_channel(conn: sqlite3.Connection, channel_id: int, windows: Windows) -> int:
    cur = conn.execute("DELETE FROM turns WHERE channel_id = ?", (channel_id,))
    conn.execute(
        "UPDATE channels SET summary = '', summary_upto = 0, trim_noticed = 0 WHERE channel_id = ?",
        (channel_id,),
    )
    windows.drop(channel_id)
    return cur.rowcount


class TurnsMixin(StoreCore):
    """The Store's turns and channel state."""

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
        return await self.db.run(_add_turn, new, self._windows)

    async def add_reply(self, new: NewTurn, usage: UsageRecord | None) -> tuple[int, int | None, float]:
        """Store an answer and what it cost together, in one transaction and one trip to the database
        thread (the third trip of every chat turn, before); returns the turn's id, the usage row's id
        (None without usage) and the usage's time."""
        at = time.time()
        turn_id, usage_id = await self.db.run(_add_reply, new, usage, at, self._windows)
        return turn_id, usage_id, at

    async def open_turn(self, new: NewTurn, budget: int) -> TurnContext:
        """Store a user's turn and read what answering it needs (turns within `budget`) in one trip: from
        the channel's window in memory while it holds (bot/store/window.py)."""
        return await self.db.run(_open_turn, new, budget, self._windows)

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
        return await self.db.run(_forget_channel, channel_id, self._windows)

    async def bulk_add_turns(self, rows: Iterable[tuple[int, int | None, int, str, str, str, int]]) -> None:
        """Insert many turns in one transaction (benchmarks and imports)."""
        now = time.time()
        async with self.transaction() as db:
            self._windows.drop()  # no window is read while the transaction is open (bot/store/window.py)
            await db.executemany(
                "INSERT INTO turns (channel_id, guild_id, author_id, author_name, role, content, tokens,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(*row, now) for row in rows],
            )

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
