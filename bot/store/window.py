"""Each active channel's newest turns, kept in memory so answering a turn doesn't re-read its history.

A busy channel's window is a few hundred turns; reading and rebuilding them on every turn was the bot's
largest cost under load (bench/load.py). The windows live beside the connection and are read and changed
only by functions running in the database thread, in queue order with the statements, so a window never
differs from what the database holds:

- appends (a stored turn) extend the window in the same trip as the INSERT;
- a new summary (a fold) shows as a different `summary_upto` and the window is rebuilt;
- deletions (/reset, /forget-me) drop windows in the same trip or transaction as the DELETE;
- a commit by another connection (`teambot purge` in another process) changes SQLite's `data_version`,
  and every window is dropped before the next read.
"""

from __future__ import annotations

import sqlite3
from collections import OrderedDict, deque
from dataclasses import dataclass, field

from bot.store.records import Turn

# Cache about this many tokens of turns in all (a few tens of MB of text), in at least 8 channels.
_CACHED_TOKENS = 4_000_000


@dataclass(slots=True)
class Window:
    """A channel's newest turns after its summary that fit `budget`, oldest first, and the tokens of all
    the turns after its summary (those no longer in the window too)."""

    upto: int
    budget: int
    turns: deque[Turn] = field(default_factory=deque)
    tokens: int = 0  # of the turns in the window
    pending: int = 0  # of every turn after the summary

    def add(self, turn: Turn) -> None:
        """A turn just stored: the newest turns that fit, as the database would pick them."""
        self.turns.append(turn)
        self.tokens += turn.tokens
        self.pending += turn.tokens
        while self.tokens > self.budget:  # the oldest doesn't fit beside the newer ones: nor will it later
            self.tokens -= self.turns.popleft().tokens


class Windows:
    """The windows of the most recently active channels. Call only from the database thread."""

    def __init__(self) -> None:
        self._by_channel: OrderedDict[int, Window] = OrderedDict()
        self._data_version: int | None = None

    def current(self, conn: sqlite3.Connection, channel_id: int, upto: int, budget: int) -> Window | None:
        """The channel's window if it still holds, else None (read it from the database and `keep` it)."""
        self._follow_other_connections(conn)
        window = self._by_channel.get(channel_id)
        if window is None or window.upto != upto or window.budget != budget:
            return None
        self._by_channel.move_to_end(channel_id)
        return window

    def keep(self, channel_id: int, window: Window) -> None:
        """Remember a window read from the database; the least recently used go beyond the limit."""
        self._by_channel[channel_id] = window
        self._by_channel.move_to_end(channel_id)
        while len(self._by_channel) > max(8, _CACHED_TOKENS // max(1, window.budget)):
            self._by_channel.popitem(last=False)

    def added(self, turn: Turn) -> None:
        """A turn was stored: extend its channel's window, if one is kept."""
        window = self._by_channel.get(turn.channel_id)
        if window is not None:
            window.add(turn)

    def drop(self, channel_id: int | None = None) -> None:
        """Forget one channel's window, or every window (None)."""
        if channel_id is None:
            self._by_channel.clear()
        else:
            self._by_channel.pop(channel_id, None)

    def _follow_other_connections(self, conn: sqlite3.Connection) -> None:
        # data_version changes when another connection commits (not on this connection's own writes).
        (version,) = conn.execute("PRAGMA data_version").fetchone()
        if version != self._data_version:
            self._by_channel.clear()
            self._data_version = version
