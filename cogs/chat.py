"""Chat: mentions, replies, DMs and /chat, with per-channel memory; /reset and /persona."""

from __future__ import annotations

import logging
import re
import time

import discord
from discord import app_commands
from discord.ext import commands

from bot.chat import ChatService, TurnIn
from bot.errors import UserError
from bot.i18n import t
from bot.limits import Limits
from bot.store import Store
from bot.ui import (
    NO_MENTIONS,
    ChannelTarget,
    ConfirmView,
    InteractionTarget,
    LiveReply,
    bot_permissions,
    locale_of,
    message_parts,
    respond,
    sources_embed,
)
from cogs.access import admit_interaction, admit_message
from cogs.docs import parent_of, replies_to
from cogs.errors import describe

log = logging.getLogger(__name__)
RESET_CONFIRM_TIMEOUT = 60.0  # seconds /reset waits for its confirmation
REFUSAL_QUIET = 60.0  # seconds in which the same limit refusal isn't repeated to the same person

MAX_IMAGE_BYTES = 10 * 1024 * 1024
MAX_PERSONA = 2000
EMPTY_MENTION = "Hi! Mention me with a question, reply to one of my messages, or use `/chat`."
# Zero-width characters are not whitespace to str.strip(): a message of only those is an empty mention.
_BLANK_EDGES = re.compile(r"^[\s\u200b-\u200d\u2060\ufeff]+|[\s\u200b-\u200d\u2060\ufeff]+$")


def is_image(attachment: discord.Attachment) -> bool:
    """Whether an attachment is an image the model could look at."""
    return (attachment.content_type or "").startswith("image/")


def readable_text(message: discord.Message, bot_id: int) -> str:
    """The message text with the bot's own mention removed and other mentions as names."""
    text = re.sub(rf"<@!?{bot_id}>", "", message_parts(message)[0])
    for user in message.mentions:
        text = re.sub(rf"<@!?{user.id}>", f"@{user.display_name}", text)
    for role in message.role_mentions:
        text = text.replace(f"<@&{role.id}>", f"@{role.name}")
    for channel in message.channel_mentions:
        text = text.replace(f"<#{channel.id}>", f"#{channel.name}")
    return _BLANK_EDGES.sub("", text)


def guild_id_of(channel: object) -> int | None:
    """The server of a channel, or None in DMs."""
    guild = getattr(channel, "guild", None)
    return guild.id if guild is not None else None


def can_post(message: discord.Message) -> bool:
    """Whether the bot may post in the message's channel, as far as its cache tells (when it can't tell,
    as in DMs or a channel it hasn't cached, it tries)."""
    perms = bot_permissions(message)
    if perms is None:
        return True
    in_thread = isinstance(message.channel, discord.Thread)
    return perms.send_messages_in_threads if in_thread else perms.send_messages


class ChatCog(commands.Cog):
    """Talk to the model; each channel, thread and DM has its own memory."""

    def __init__(self, chat: ChatService, store: Store, *, limits: Limits) -> None:
        self.chat = chat
        self.store = store
        self.limits = limits
        self._refusals: dict[tuple[int, int, str], float] = {}  # (channel, user, kind) → when last said

    def _refused_lately(self, message: discord.Message, kind: str) -> bool:
        """Whether this person was told the same refusal in this channel within REFUSAL_QUIET seconds
        (and if not, note that they are being told now)."""
        now = time.monotonic()
        key = (message.channel.id, message.author.id, kind)
        if now - self._refusals.get(key, -REFUSAL_QUIET) < REFUSAL_QUIET:
            return True
        if len(self._refusals) > 10_000:  # forget the old ones: bounded memory
            self._refusals = {k: v for k, v in self._refusals.items() if now - v < REFUSAL_QUIET}
        self._refusals[key] = now
        return False

    # --- mentions, replies and DMs ----------------------------------------------------------

    def wants_reply(self, message: discord.Message, me: discord.abc.User) -> bool:
        """A turn starts on a DM, a mention of the bot, or a reply to one of its messages."""
        if message.author.bot or message.author.id == me.id:
            return False
        if message.guild is None:
            return True
        return me in message.mentions or replies_to(message, me)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Answer mentions, replies to the bot, and DMs."""
        me = message.guild.me if message.guild else None
        me = me or message._state.user
        if me is None or not self.wants_reply(message, me):
            return
        if not can_post(message):  # no one would see the answer: don't spend a model call on it
            log.info("mentioned in channel %s where I can't post", message.channel.id)
            return
        locale = locale_of(message)
        text = readable_text(message, me.id)
        attachments = message_parts(message)[1]
        images = [a for a in attachments if is_image(a)]
        if not text and not images:
            if attachments:
                return  # files only: the documents pipeline answers
            await respond(message, t(EMPTY_MENTION, locale))
            return
        try:
            await admit_message(self.limits, "chat", message)
        except UserError as refused:  # said plainly, in place of a reply: no placeholder was sent
            if self._refused_lately(message, refused.kind):
                return  # said a moment ago: a refusal per message would let one person flood the channel
            await respond(message, refused.localized(locale))
            return
        turn = TurnIn(
            channel_id=message.channel.id,
            guild_id=guild_id_of(message.channel),
            author_id=message.author.id,
            author_name=message.author.display_name,
            content=text,
            message_id=message.id,
            images=[await a.read() for a in images if a.size <= MAX_IMAGE_BYTES],
            parent_id=parent_of(message.channel),
        )
        # No typing indicator: an answer ready within the grace period is posted whole, a slower one shows a
        # placeholder then, and Discord clears the indicator as soon as the bot posts anyway.
        await self.answer(turn, LiveReply(ChannelTarget(message), locale=locale), locale)

    async def answer(self, turn: TurnIn, live: LiveReply, locale: object = None) -> None:
        """Run a chat turn into a live reply; any failure replaces the placeholder with its message."""
        try:
            await live.start()
            reply = await self.chat.reply(turn, on_text=live.update)
            embeds = [sources_embed(reply.sources, locale)] if reply.sources else []
            await live.finish(reply.text, [t(note, locale) for note in reply.notes], embeds=embeds)
        except Exception as exc:  # one bad turn must never take the bot down or leave "thinking"
            text = describe(exc, context=f"chat in channel {turn.channel_id}", locale=locale)
            try:  # in place of the placeholder, or as the reply if none showed yet
                await live.fail(text)
            except discord.HTTPException as send_error:
                log.warning("could not show a chat error: %s", send_error.status)
        finally:  # cancelled (the bot shutting down): no placeholder may show after it
            await live.stop()

    # --- slash commands ---------------------------------------------------------------------

    @app_commands.command(name="chat", description="Talk to the bot in this channel's conversation")
    @app_commands.describe(message="What you want to say")
    async def chat_command(
        self, interaction: discord.Interaction, message: app_commands.Range[str, 1, 4000]
    ) -> None:
        """A turn in this channel's conversation, same memory as mentions."""
        text = _BLANK_EDGES.sub("", message)
        if not text:
            raise UserError("Your message is empty. Write something for me to answer.", kind="empty")
        await admit_interaction(self.limits, "chat", interaction)
        turn = TurnIn(
            channel_id=interaction.channel_id or interaction.user.id,
            guild_id=interaction.guild_id,
            author_id=interaction.user.id,
            author_name=interaction.user.display_name,
            content=text,
            parent_id=parent_of(interaction.channel),
        )
        locale = locale_of(interaction)
        await self.answer(turn, LiveReply(InteractionTarget(interaction), locale=locale), locale)

    @app_commands.command(name="reset", description="Forget this channel's conversation")
    async def reset(self, interaction: discord.Interaction) -> None:
        """Forget this channel's memory, after a confirmation."""
        if interaction.guild_id is not None and not interaction.permissions.manage_channels:
            raise UserError(
                "Resetting a shared channel's memory needs the Manage Channels permission.", kind="forbidden"
            )
        locale = locale_of(interaction)
        view = ConfirmView(
            interaction.user.id, confirm_label="Forget", locale=locale, timeout=RESET_CONFIRM_TIMEOUT
        )
        await interaction.response.send_message(
            t("Forget everything I remember from this channel? This can't be undone.", locale),
            view=view,
            ephemeral=True,
        )
        if await view.wait():  # no answer in time: say so, and take the buttons away
            await interaction.edit_original_response(content=t("Cancelled.", locale), view=None)
            return
        if not view.result:
            return
        removed = await self.chat.reset(interaction.channel_id or interaction.user.id)
        await interaction.edit_original_response(
            content=t("Done: I forgot {count} messages here.", locale, count=removed), view=None
        )

    persona = app_commands.Group(name="persona", description="This channel's instructions for the bot")

    @persona.command(name="set", description="Set this channel's system prompt (needs Manage Channels)")
    @app_commands.describe(prompt="How the bot should behave in this channel")
    async def persona_set(self, interaction: discord.Interaction, prompt: str) -> None:
        """Set the channel's system prompt."""
        if interaction.guild_id is not None and not interaction.permissions.manage_channels:
            raise UserError("Setting the persona needs the Manage Channels permission.", kind="forbidden")
        prompt = prompt.strip()
        if not prompt:
            raise UserError("The persona can't be empty. Use `/persona clear` to remove it.", kind="empty")
        if len(prompt) > MAX_PERSONA:
            raise UserError(
                "The persona is too long: keep it under {limit} characters.",
                kind="too_long",
                params={"limit": MAX_PERSONA},
            )
        await self.store.set_persona(self._channel(interaction), interaction.guild_id, prompt)
        await interaction.response.send_message(
            t("Persona set for this channel.", locale_of(interaction)), ephemeral=True
        )

    @persona.command(name="show", description="Show this channel's system prompt")
    async def persona_show(self, interaction: discord.Interaction) -> None:
        """Show the channel's system prompt."""
        state = await self.store.channel_state(self._channel(interaction))
        locale = locale_of(interaction)
        text = (
            t("This channel's persona:\n>>> {persona}", locale, persona=state.persona)
            if state.persona
            else t("No persona is set here.", locale)
        )
        await interaction.response.send_message(text[:2000], ephemeral=True, allowed_mentions=NO_MENTIONS)

    @persona.command(name="clear", description="Remove this channel's system prompt (needs Manage Channels)")
    async def persona_clear(self, interaction: discord.Interaction) -> None:
        """Clear the channel's system prompt."""
        if interaction.guild_id is not None and not interaction.permissions.manage_channels:
            raise UserError("Clearing the persona needs the Manage Channels permission.", kind="forbidden")
        await self.store.set_persona(self._channel(interaction), interaction.guild_id, None)
        await interaction.response.send_message(
            t("Persona cleared for this channel.", locale_of(interaction)), ephemeral=True
        )

    @staticmethod
    def _channel(interaction: discord.Interaction) -> int:
        return interaction.channel_id or interaction.user.id
