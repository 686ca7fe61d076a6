"""Where a request comes from, and which documents that lets it read: a small module of its own so that
chat and the cogs can use it without loading LlamaIndex (bot/documents.py)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Where:
    """Where a request comes from: server, channel (and its parent for threads), user."""

    guild_id: int | None
    channel_id: int
    user_id: int
    parent_id: int | None = None

    @property
    def shard(self) -> str:
        """The index partition: the server, or the user's own space in DMs."""
        return str(self.guild_id) if self.guild_id is not None else f"dm:{self.user_id}"

    def visible_scopes(self) -> list[str]:
        """Scope keys a question asked here may read."""
        if self.guild_id is None:
            return [f"user:{self.user_id}"]
        keys = [f"server:{self.guild_id}", f"channel:{self.channel_id}"]
        if self.parent_id is not None:
            keys.append(f"channel:{self.parent_id}")
        return keys

    def scope_key(self, scope: str) -> tuple[str, str]:
        """The (scope, key) a document uploaded here with `scope` belongs to."""
        if self.guild_id is None:
            return "user", f"user:{self.user_id}"
        if scope == "channel":
            return "channel", f"channel:{self.channel_id}"
        return "server", f"server:{self.guild_id}"
