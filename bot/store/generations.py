"""Image generation records: who made which image, where, and with which model."""

from __future__ import annotations

import time

from bot.store.core import StoreCore
from bot.store.records import _GENERATION_COLUMNS, GenerationRecord


class GenerationsMixin(StoreCore):
    """The Store's image generation records."""

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
