"""Usage records: what each model call cost, and the totals budgets and /usage read."""

from __future__ import annotations

import sqlite3
import time

from bot.store.core import StoreCore
from bot.store.records import UsageRecord, UsageTotals


def _insert_usage(conn: sqlite3.Connection, record: UsageRecord, at: float) -> int:
    cur = conn.execute(
        "INSERT INTO usage (guild_id, user_id, feature, model, tokens_in, tokens_out, images, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        (record.guild_id, record.user_id, record.feature, record.model, record.tokens_in, record.tokens_out,
         record.images, at),
    )
    return int(cur.lastrowid or 0)


class UsageMixin(StoreCore):
    """The Store's usage records and reports."""

    async def record_usage(self, record: UsageRecord, *, at: float | None = None) -> int:
        """Store what one model call used, now or `at` (tests on a controlled clock); returns its id."""
        return await self.db.run(_insert_usage, record, time.time() if at is None else at)

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
