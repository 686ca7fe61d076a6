"""Server settings an admin changed, and the log of who changed what."""

from __future__ import annotations

import time

from bot.store.core import StoreCore
from bot.store.records import SettingChange


class SettingsMixin(StoreCore):
    """The Store's server settings and their change log."""

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
