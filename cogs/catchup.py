"""Catch-up: /summarize reads the channel's recent messages and sums them up with jump links."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserError
from bot.i18n import t
from bot.llm import Who
from bot.moderation import Moderator, Subject
from bot.summarize import ChannelMessage, Summarizer
from bot.text import split_message
from bot.ui import NO_MENTIONS, locale_of, message_parts

log = logging.getLogger(__name__)

Admit = Callable[[discord.Interaction], Awaitable[None]]
ModelFor = Callable[[int | None], Awaitable[str]]
# What people said, and public answers to slash commands and context menus (a /chat answer is one).
KEPT_TYPES = frozenset({
    discord.MessageType.default, discord.MessageType.reply, discord.MessageType.chat_input_command,
    discord.MessageType.context_menu_command,
})


def can_read_history(interaction: discord.Interaction) -> bool:
    """Whether the caller may see this channel and read its history (DMs: always)."""
    channel, user = interaction.channel, interaction.user
    if isinstance(user, discord.Member) and isinstance(channel, discord.abc.GuildChannel | discord.Thread):
        perms = channel.permissions_for(user)
    elif interaction.guild_id is not None:
        perms = interaction.permissions
    else:
        return True
    return perms.view_channel and perms.read_message_history


def plain_message(message: discord.Message) -> ChannelMessage | None:
    """A message as plain values for the summary (None for system messages and empty ones)."""
    if message.type not in KEPT_TYPES:
        return None
    content, attachments = message_parts(message)
    parts = [content]
    parts += [f"[{e.title or ''} {e.description or ''}]".strip() for e in message.embeds[:1]]
    parts += [f"[attachment: {a.filename}]" for a in attachments]
    text = " ".join(p for p in parts if p and p != "[]").strip()
    if not text:
        return None
    return ChannelMessage(message.id, message.author.display_name, message.created_at, text, message.jump_url)


class CatchUpCog(commands.Cog):
    """Catch me up on this channel."""

    def __init__(
        self,
        summarizer: Summarizer,
        *,
        admit: Admit | None = None,
        model_for: ModelFor | None = None,
        moderation: Moderator | None = None,
    ) -> None:
        self.summarizer = summarizer
        self.admit = admit
        self.model_for = model_for
        self.moderation = moderation  # where a server moderates, a summary is checked as chat answers are

    @app_commands.command(
        name="summarize", description="Catch up on this channel: topics, decisions, open questions"
    )
    @app_commands.describe(messages="How many recent messages to read (default 50)")
    async def summarize(
        self, interaction: discord.Interaction, messages: app_commands.Range[int, 2, 200] = 50
    ) -> None:
        """Summarize the last messages of this channel, for the caller only."""
        channel = interaction.channel
        if not can_read_history(interaction):
            raise UserError(
                "You can't read this channel's message history, so I can't summarize it for you.",
                kind="forbidden",
            )
        if not isinstance(channel, discord.abc.Messageable) or (
            interaction.guild_id is not None and not interaction.app_permissions.read_message_history
        ):
            raise UserError(
                "I can't read this channel's history: I need the Read Message History permission here.",
                kind="bot_forbidden",
            )
        if self.admit is not None:
            await self.admit(interaction)
        locale = locale_of(interaction)
        await interaction.response.defer(thinking=True, ephemeral=True)
        history = [m async for m in channel.history(limit=messages)]
        lines = [p for p in map(plain_message, history) if p is not None]
        model = await self.model_for(interaction.guild_id) if self.model_for else None
        catch_up = await self.summarizer.summarize(
            lines, who=Who(interaction.guild_id, interaction.user.id, "summarize"), locale=locale, model=model
        )
        if self.moderation is not None:
            user = interaction.user
            subject = Subject(interaction.guild_id, channel.id, user.id, user.display_name, "summarize")
            await self.moderation.screen_output(catch_up.text, subject)
        header = t("**Catch-up** on the last {count} messages here:", locale, count=catch_up.read)
        pages = split_message(f"{header}\n{catch_up.text}")
        await interaction.edit_original_response(content=pages[0], allowed_mentions=NO_MENTIONS)
        for page in pages[1:]:
            await interaction.followup.send(page, ephemeral=True, allowed_mentions=NO_MENTIONS)
