"""TeamBot: the discord.py client, given its services; loads the cogs and keeps commands synced."""

from __future__ import annotations

import hashlib
import json
import logging

import discord
from discord.ext import commands

from bot.services import Services
from bot.ui import NO_MENTIONS, CatalogTranslator

log = logging.getLogger(__name__)
TREE_HASH_KEY = "command_tree_hash"


def intents() -> discord.Intents:
    """The least the bot needs: servers, their messages and DMs, and message text."""
    wanted = discord.Intents.none()
    wanted.guilds = True
    wanted.guild_messages = True
    wanted.dm_messages = True
    wanted.message_content = True
    return wanted


class TeamBot(commands.Bot):
    """The bot; every cog gets the services it needs from here, in its constructor."""

    def __init__(self, services: Services, *, force_sync: bool = False, sync_commands: bool = True) -> None:
        super().__init__(
            command_prefix=(),
            intents=intents(),
            allowed_mentions=NO_MENTIONS,
            help_command=None,
        )
        self.services = services
        self.force_sync = force_sync
        self.sync_commands = sync_commands

    async def setup_hook(self) -> None:
        """Add the cogs, then sync the command tree if it changed since the last sync."""
        await self.tree.set_translator(CatalogTranslator())
        await self.add_feature_cogs()
        # The document index opens and recovers in the background while the bot connects; a request that
        # needs it meanwhile waits (bot/documents.py).
        self.services.documents.start_in_background()
        if self.sync_commands:
            await self.sync_tree(force=self.force_sync)

    def fixed_language(self, guild_id: int | None) -> str:
        """The language a server fixed for the bot's messages (bot/ui.py locale_of asks)."""
        return self.services.server_settings.fixed_language(guild_id)

    async def on_guild_available(self, guild: discord.Guild) -> None:
        """Read the server's settings now, so its fixed language is known to every message."""
        await self.services.server_settings.config(guild.id)

    async def add_feature_cogs(self) -> None:
        """Create each cog with the services it needs."""
        from cogs.chat import ChatCog
        from cogs.docs import DocsCog
        from cogs.errors import ErrorsCog

        s = self.services
        await self.add_cog(ErrorsCog(self))
        await self.add_cog(ChatCog(s.chat, s.store, limits=s.limits))
        await self.add_cog(
            DocsCog(
                s.documents, max_files=s.settings.max_files_per_upload,
                watch_channels=s.settings.watch_channels, limits=s.limits, server=s.server_settings,
            )
        )
        from bot.code import CodeHelp
        from cogs.code import CodeCog

        await self.add_cog(CodeCog(CodeHelp(s.store, s.llm, s.chat, s.settings), self.tree, limits=s.limits))
        from cogs.images import ImagesCog

        await self.add_cog(ImagesCog(self, s.images, limits=s.limits))
        from bot.forget import Forgetter
        from bot.summarize import Summarizer
        from cogs.access import admit_interaction
        from cogs.catchup import CatchUpCog
        from cogs.moderation import ModerationAlertsCog
        from cogs.privacy import PrivacyCog

        summarizer = Summarizer(s.llm, context_tokens=s.settings.context_tokens)
        await self.add_cog(
            CatchUpCog(
                summarizer,
                admit=lambda interaction: admit_interaction(s.limits, "chat", interaction),
                model_for=s.chat.model_for,
                moderation=s.moderation,
            )
        )
        await self.add_cog(PrivacyCog(Forgetter(s.store, s.documents)))
        await self.add_cog(ModerationAlertsCog(self, s.moderation))
        from cogs.team import TeamCog

        await self.add_cog(TeamCog(self, s.server_settings, s.limits, s.settings.allowed_guilds))

    async def tree_payload(self) -> list[dict]:
        """The command tree as Discord would receive it, translations included (for change detection)."""
        guild = (
            discord.Object(self.services.settings.dev_guild_id)
            if self.services.settings.dev_guild_id
            else None
        )
        commands = self.tree._get_all_commands(guild=guild)
        translator = self.tree.translator
        if translator is None:
            return [cmd.to_dict(self.tree) for cmd in commands]
        return [await cmd.get_translated_payload(self.tree, translator) for cmd in commands]

    async def sync_tree(self, *, force: bool = False) -> bool:
        """Sync commands (to DEV_GUILD_ID instantly, else globally) when they changed; True if synced."""
        dev_guild = self.services.settings.dev_guild_id
        guild = discord.Object(dev_guild) if dev_guild else None
        if guild is not None:
            self.tree.copy_global_to(guild=guild)
        scope = f"guild:{dev_guild}" if dev_guild else "global"
        digest = hashlib.sha256(
            json.dumps([scope, await self.tree_payload()], sort_keys=True, default=str).encode()
        ).hexdigest()
        store = self.services.store
        if not force and await store.get_meta(TREE_HASH_KEY) == digest:
            log.info("commands unchanged since the last sync")
            return False
        synced = await self.tree.sync(guild=guild)
        await store.set_meta(TREE_HASH_KEY, digest)
        log.info("synced %d commands (%s)", len(synced), scope)
        return True

    async def on_message(self, message: discord.Message, /) -> None:
        """No prefix commands: cogs listen for the messages they answer."""

    async def on_ready(self) -> None:
        """Log who we are once connected."""
        log.info(
            "connected as %s (id %s) in %d servers", self.user, self.user and self.user.id, len(self.guilds)
        )

    async def close(self) -> None:
        """Close Discord first, then the services."""
        try:
            await super().close()
        finally:
            await self.services.aclose()
