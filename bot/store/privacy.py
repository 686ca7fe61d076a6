"""Data deletion for /forget-me and `teambot purge`: what is stored about a user, and removing it."""

from __future__ import annotations

import time

import aiosqlite

from bot.store.core import StoreCore
from bot.store.records import UserFootprint

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



FORGOTTEN = "a deleted user"  # who changed a setting, after they used /forget-me

class PrivacyMixin(StoreCore):
    """The Store's view of one user's data, and its deletion."""

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
            # Not what an earlier /forget-me already set to fold when its month ends.
            usage_rows=await self._count(
                "SELECT COUNT(*) FROM usage WHERE user_id = ? AND created_at >= COALESCE("
                "(SELECT forgotten_at FROM forgotten_usage WHERE user_id = ?), 0)",
                (user_id, user_id),
            ),
            images=await self._count("SELECT COUNT(*) FROM image_generations WHERE user_id = ?", (user_id,)),
            documents=await self._count(
                "SELECT COUNT(*) FROM documents WHERE uploader_id = ? AND status = 'ready'", (user_id,)
            ),
            settings_changes=await self._count(
                "SELECT COUNT(*) FROM settings_log WHERE user_id = ?", (user_id,)
            ),
        )

    async def forget_user(
        self, user_id: int, *, keep_since: float | None = None, now: float | None = None
    ) -> UserFootprint:
        """Delete a user's turns, answers, summaries with them and image records; anonymise their usage
        from before `keep_since` (Forgetter gives the month's start: this month's stays linked until it
        ends, for their budgets, and anonymize_due_usage folds it then), all of it if not given."""
        now = time.time() if now is None else now
        keep_since = now if keep_since is None else keep_since
        # One transaction: all of it or none. Documents are the Library's to remove (vectors live there).
        async with self.transaction() as db:
            self._windows.drop()  # no window is read while the transaction is open (bot/store/window.py)
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
            # Usage before this month becomes anonymous now; this month's once it ends (anonymize_due_usage).
            usage = await _anonymize_usage(db, user_id, before=min(now, keep_since))
            kept = await db.execute("SELECT COUNT(*) FROM usage WHERE user_id = ?", (user_id,))
            (later,) = await kept.fetchone()
            if later:
                await db.execute(
                    "INSERT OR REPLACE INTO forgotten_usage (user_id, forgotten_at) VALUES (?, ?)",
                    (user_id, now),
                )
            images = await db.execute("DELETE FROM image_generations WHERE user_id = ?", (user_id,))
            # A server's log of settings changes keeps what changed and when, no longer who changed it.
            changes = await db.execute(
                "UPDATE settings_log SET user_id = 0, user_name = ? WHERE user_id = ?", (FORGOTTEN, user_id)
            )
            await db.execute("UPDATE guild_settings SET updated_by = 0 WHERE updated_by = ?", (user_id,))
        return UserFootprint(
            turns.rowcount, answers.rowcount, len(channels), usage + later, images.rowcount,
            settings_changes=changes.rowcount,
        )

    async def anonymize_due_usage(self, month_start: float) -> int:
        """Fold into anonymous totals the usage of forgotten users that is from before both their
        /forget-me and the month starting at `month_start`; returns how many rows were folded."""
        folded = 0
        async with self.transaction() as db:
            async with db.execute("SELECT user_id, forgotten_at FROM forgotten_usage") as cur:
                pending = [(int(row[0]), float(row[1])) for row in await cur.fetchall()]
            for user_id, forgotten_at in pending:
                folded += await _anonymize_usage(db, user_id, before=min(forgotten_at, month_start))
                if forgotten_at < month_start:  # everything from before the /forget-me is folded now
                    await db.execute("DELETE FROM forgotten_usage WHERE user_id = ?", (user_id,))
        return folded


async def _anonymize_usage(db: aiosqlite.Connection, user_id: int, *, before: float) -> int:
    """Replace a user's usage rows from before `before` by hourly anonymous totals (every server's day
    and month figures stay right, in any whole-hour timezone); returns how many rows there were."""
    await db.execute(
        "INSERT INTO usage (guild_id, user_id, feature, model, tokens_in, tokens_out, images,"
        " created_at) SELECT guild_id, NULL, feature, model, SUM(tokens_in), SUM(tokens_out),"
        " SUM(images), CAST(created_at / 3600 AS INTEGER) * 3600 FROM usage WHERE user_id = ?"
        " AND created_at < ? GROUP BY guild_id, feature, model, CAST(created_at / 3600 AS INTEGER)",
        (user_id, before),
    )
    deleted = await db.execute("DELETE FROM usage WHERE user_id = ? AND created_at < ?", (user_id, before))
    return deleted.rowcount
