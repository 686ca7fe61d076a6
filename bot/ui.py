"""Discord rendering shared by cogs: live-streamed replies, confirmations and embeds."""

from __future__ import annotations

import asyncio
import io
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Protocol

import discord
from discord import app_commands

from bot.i18n import choose, lang, t, translation
from bot.text import plan_reply, split_message, truncate

if TYPE_CHECKING:
    from index.query import Source

log = logging.getLogger(__name__)

NO_MENTIONS = discord.AllowedMentions.none()
PLACEHOLDER = "… thinking"
CURSOR = " ▌"
EDIT_INTERVAL = 1.0
# How long a reply to a message may take before a placeholder shows: an answer complete by then is posted
# once, whole (no "thinking" flash, one call of the channel's Discord rate limit instead of two); a slower
# one shows its first words, or the placeholder, at this point and is edited as before.
PLACEHOLDER_GRACE = 0.5


def bot_permissions(message: discord.Message) -> discord.Permissions | None:
    """The bot's permissions in the message's channel, as far as its cache tells (None when it can't tell,
    as in DMs or a thread whose parent isn't cached)."""
    channel, me = message.channel, message.guild.me if message.guild else None
    if me is None or not isinstance(channel, (discord.abc.GuildChannel, discord.Thread)):
        return None
    try:
        return channel.permissions_for(me)
    except discord.ClientException:
        return None


def message_parts(message: discord.Message) -> tuple[str, list[discord.Attachment]]:
    """A message's text and files. A forwarded message has none of its own: Discord carries the forwarded
    one's in a snapshot, so those are the message's for every feature that reads it."""
    if message.content or message.attachments or not message.message_snapshots:
        return message.content, list(message.attachments)
    snapshot = message.message_snapshots[0]
    return snapshot.content, list(snapshot.attachments)


def reply_reference(message: discord.Message) -> discord.MessageReference | None:
    """What makes the bot's message a reply to `message`: Discord refuses a reply (403) from a bot without
    Read Message History, so there it is posted plain, under the message, instead of not at all."""
    perms = bot_permissions(message)
    if perms is not None and not perms.read_message_history:
        return None
    return message.to_reference(fail_if_not_exists=False)  # posted all the same if they deleted it


async def respond(message: discord.Message, content: str, **kwargs: object) -> discord.Message:
    """Answer `message` in its channel: as a reply where the bot may, else plainly; never pinging."""
    return await message.channel.send(
        content, reference=reply_reference(message), allowed_mentions=NO_MENTIONS, **kwargs  # type: ignore[arg-type]
    )


class Editable(Protocol):
    """A sent message the bot can edit or delete."""

    async def edit(self, **kwargs: object) -> object: ...

    async def delete(self) -> None: ...


class ReplyTarget(Protocol):
    """Where a reply goes: its first message (placeholder) and the ones that continue it."""

    grace: float  # seconds a reply may take before its first message must show

    async def first(
        self, content: str, files: Sequence[discord.File] = (), embeds: Sequence[discord.Embed] = ()
    ) -> Editable: ...

    async def more(
        self, content: str, files: Sequence[discord.File] = (), embeds: Sequence[discord.Embed] = ()
    ) -> Editable: ...


class ChannelTarget:
    """Replies to a message in its channel."""

    grace = PLACEHOLDER_GRACE

    def __init__(self, message: discord.Message) -> None:
        self.message = message

    async def first(
        self, content: str, files: Sequence[discord.File] = (), embeds: Sequence[discord.Embed] = ()
    ) -> Editable:
        """Reply to the user's message (see `respond`)."""
        return await respond(self.message, content, files=list(files), embeds=list(embeds))

    async def more(
        self, content: str, files: Sequence[discord.File] = (), embeds: Sequence[discord.Embed] = ()
    ) -> Editable:
        """Continue in the same channel."""
        return await self.message.channel.send(
            content, files=list(files), embeds=list(embeds), allowed_mentions=NO_MENTIONS
        )


class _OriginalResponse:
    def __init__(self, interaction: discord.Interaction) -> None:
        self.interaction = interaction

    async def edit(
        self,
        *,
        content: str,
        attachments: Sequence[discord.File] = (),
        embeds: Sequence[discord.Embed] | None = None,
    ) -> object:
        kwargs: dict = {"content": content, "allowed_mentions": NO_MENTIONS}
        if attachments:
            kwargs["attachments"] = list(attachments)
        if embeds is not None:
            kwargs["embeds"] = list(embeds)
        return await self.interaction.edit_original_response(**kwargs)

    async def delete(self) -> None:
        await self.interaction.delete_original_response()


class InteractionTarget:
    """Replies to a slash command: the deferred response, then follow-ups."""

    grace = 0.0  # Discord wants an answer to an interaction within 3 s: defer at once

    def __init__(self, interaction: discord.Interaction, *, ephemeral: bool = False) -> None:
        self.interaction = interaction
        self.ephemeral = ephemeral

    async def first(
        self, content: str, files: Sequence[discord.File] = (), embeds: Sequence[discord.Embed] = ()
    ) -> Editable:
        """Defer (showing 'thinking') or use the response already sent."""
        if not self.interaction.response.is_done():
            await self.interaction.response.defer(thinking=True, ephemeral=self.ephemeral)
        original = _OriginalResponse(self.interaction)
        await original.edit(content=content, attachments=files, embeds=list(embeds) if embeds else None)
        return original

    async def more(
        self, content: str, files: Sequence[discord.File] = (), embeds: Sequence[discord.Embed] = ()
    ) -> Editable:
        """A follow-up message."""
        return await self.interaction.followup.send(
            content,
            files=list(files),
            embeds=list(embeds),
            wait=True,
            ephemeral=self.ephemeral,
            allowed_mentions=NO_MENTIONS,
        )


def to_files(files: Sequence[tuple[str, bytes]]) -> list[discord.File]:
    """Named bytes as Discord files."""
    return [discord.File(io.BytesIO(data), filename=name) for name, data in files]


class LiveReply:
    """A reply that grows as text streams in: edits at most once per interval, new messages past 2000.

    Nothing shows for the target's grace period: a reply finished by then is posted once, complete.
    After it, the first message shows the words so far (or the placeholder) and follows the stream.
    """

    def __init__(
        self, target: ReplyTarget, *, interval: float = EDIT_INTERVAL, locale: object = None
    ) -> None:
        self.target = target
        self.interval = interval
        self.placeholder = t(PLACEHOLDER, locale)
        self.sent: list[Editable] = []
        self._shown: list[str] = []
        self._render: Callable[[], str] = str
        self._changed = asyncio.Event()
        self._pump: asyncio.Task | None = None
        self._in_flight: asyncio.Task | None = None  # the pump's current Discord call
        self._last_edit = 0.0

    async def start(self, placeholder: str | None = None) -> None:
        """Begin following updates; the placeholder shows at once, or after the target's grace period if
        the reply is not complete by then."""
        self.placeholder = placeholder or self.placeholder
        grace = self.target.grace
        if grace <= 0:
            self.sent.append(await self.target.first(self.placeholder))
            self._shown.append(self.placeholder)
            self._last_edit = time.monotonic()
        self._pump = asyncio.create_task(self._follow(grace))

    async def stop(self) -> None:
        """Stop following updates (what is shown stays); for a reply given up on, e.g. cancelled."""
        await self._stop_pump()

    @property
    def _latest(self) -> str:
        return self._render()

    def update(self, text: str | Callable[[], str]) -> None:
        """Take the visible text so far, or how to render it (cheap: the pump renders and edits at most
        once per interval)."""
        self._render = text if callable(text) else lambda: text
        self._changed.set()

    async def _follow(self, grace: float) -> None:
        if not self.sent:
            await asyncio.sleep(grace)
            await self._refresh()  # the words so far, or the placeholder
        while True:
            await self._changed.wait()
            wait = self.interval - (time.monotonic() - self._last_edit)
            if wait > 0:
                await asyncio.sleep(wait)
            await self._refresh()

    async def _refresh(self) -> None:
        """Show the text so far. The Discord calls run in a task of their own: stopping the pump must not
        cut off a post in flight (the message would show, lost to the reply, with a stale cursor or the
        placeholder, and the final text would be posted again)."""
        self._changed.clear()
        latest = self._latest
        self._in_flight = asyncio.create_task(
            self._show(split_message(latest + CURSOR) if latest else [self.placeholder])
        )
        try:
            await asyncio.shield(self._in_flight)
        except discord.HTTPException as exc:
            log.warning("live edit failed: %s", exc.status)  # the next edit, finish or fail tries again
        self._last_edit = time.monotonic()

    async def _stop_pump(self) -> None:
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
            self._pump = None
        if self._in_flight is not None:  # lands before what the caller shows next
            call, self._in_flight = self._in_flight, None
            await asyncio.wait([call])  # not gather: a cancelled stop must not cancel the post
            if not call.cancelled():
                call.exception()  # seen (the pump logged an HTTP error; the caller's own call will tell)

    async def _show(
        self,
        pages: Sequence[str],
        files: Sequence[tuple[str, bytes]] = (),
        embeds: Sequence[discord.Embed] = (),
    ) -> None:
        """Make the sent messages show `pages` (files and embeds under the last), sending or deleting
        messages as needed."""
        for i, page in enumerate(pages):
            last = i == len(pages) - 1
            attach = to_files(files) if last and files else []
            below = list(embeds) if last else []
            if i < len(self.sent):
                extra: dict = {"attachments": attach} if attach else {}
                if below:
                    extra["embeds"] = below
                if extra or self._shown[i] != page:
                    await self.sent[i].edit(content=page, **extra)
                self._shown[i] = page
            else:
                post = self.target.more if self.sent else self.target.first
                self.sent.append(await post(page, attach, below))
                self._shown.append(page)
        while len(self.sent) > max(1, len(pages)):
            await self.sent.pop().delete()
            self._shown.pop()

    async def finish(
        self,
        text: str,
        notes: Sequence[str] = (),
        files: Sequence[tuple[str, bytes]] = (),
        embeds: Sequence[discord.Embed] = (),
    ) -> None:
        """Show the final text (long code as files) with notes underneath, any extra files and embeds."""
        await self._stop_pump()
        body = text.rstrip()
        if notes:
            body += "\n\n" + "\n".join(notes)
        plan = plan_reply(body)
        await self._show(plan.messages or ["(empty)"], [*plan.files, *files], embeds)

    async def fail(self, message: str) -> None:
        """Replace the placeholder (or append to a partial answer) with an error message; posted as the
        reply if nothing showed yet."""
        await self._stop_pump()
        latest = self._latest
        if not latest:
            await self._show([f"⚠️ {message}"])
            return
        pages = split_message(latest.rstrip() + f"\n\n⚠️ {message}")
        await self._show(pages)


def sources_embed(sources: Sequence[Source], locale: object = None) -> discord.Embed:
    """The sources of an answer, numbered like its citations: file, page or section, and an excerpt."""
    embed = discord.Embed(title=t("Sources", locale), colour=discord.Colour.blurple())
    for s in sources[:10]:
        where = f" — {t(s.location, locale)}" if s.location else ""
        embed.add_field(
            name=truncate(f"[{s.number}] {s.filename}{where}", 250), value=s.excerpt or "…", inline=False
        )
    return embed


class ConfirmView(discord.ui.View):
    """Yes / Cancel buttons for the person who asked; `result` is True, False or None (timed out)."""

    def __init__(
        self, user_id: int, *, confirm_label: str = "Yes", timeout: float = 60, locale: object = None
    ) -> None:
        super().__init__(timeout=timeout)
        self.user_id = user_id
        self.result: bool | None = None
        self.locale = locale
        self.confirm.label = t(confirm_label, locale)
        self.cancel.label = t("Cancel", locale)

    async def interaction_check(self, interaction: discord.Interaction) -> bool:
        """Only the person who asked may answer."""
        if interaction.user.id != self.user_id:
            await interaction.response.send_message(
                t("This question isn't for you.", locale_of(interaction)), ephemeral=True
            )
            return False
        return True

    @discord.ui.button(label="Yes", style=discord.ButtonStyle.danger)
    async def confirm(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        """Confirm."""
        self.result = True
        await interaction.response.edit_message(view=None)
        self.stop()

    @discord.ui.button(label="Cancel", style=discord.ButtonStyle.secondary)
    async def cancel(self, interaction: discord.Interaction, button: discord.ui.Button) -> None:
        """Cancel."""
        self.result = False
        await interaction.response.edit_message(content=t("Cancelled.", self.locale), view=None)
        self.stop()


class Throttled:
    """Calls an async edit with the latest text at most once per interval (progress messages)."""

    def __init__(self, edit: Callable[[str], Awaitable[object]], *, interval: float = EDIT_INTERVAL) -> None:
        self.edit = edit
        self.interval = interval
        self._last = 0.0

    async def __call__(self, text: str) -> None:
        """Show `text` unless the previous edit was too recent."""
        now = time.monotonic()
        if now - self._last < self.interval:
            return
        self._last = now
        try:
            await self.edit(text)
        except discord.HTTPException as exc:
            log.warning("progress edit failed: %s", exc.status)


# --- languages ------------------------------------------------------------------------------


def locale_of(source: discord.Interaction | discord.Message | None) -> str:
    """The reader's language: the language a server fixed with `reply_language` (REPLY_LANGUAGE in DMs)
    if any, else the user's Discord locale for commands and the server's for messages."""
    if source is None:
        return lang(None)
    if isinstance(source, discord.Interaction):
        own, guild_id, client = source.locale, source.guild_id, source.client
    else:
        guild = source.guild
        own, guild_id = (guild.preferred_locale, guild.id) if guild is not None else (None, None)
        client = source._state._get_client()  # discord.py's own way from a message to its client
    fixed = getattr(client, "fixed_language", None)
    return choose(own, fixed(guild_id) if fixed is not None else None)


class CatalogTranslator(app_commands.Translator):
    """Descriptions and choice names from bot/i18n's catalogs; command and option names stay English."""

    TRANSLATED = frozenset(
        {
            app_commands.TranslationContextLocation.command_description,
            app_commands.TranslationContextLocation.group_description,
            app_commands.TranslationContextLocation.parameter_description,
            app_commands.TranslationContextLocation.choice_name,
            app_commands.TranslationContextLocation.other,
        }
    )

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        """The catalog's text for this locale, or None (Discord then shows the English)."""
        if context.location not in self.TRANSLATED or lang(locale) == "en":
            return None
        return translation(string.extras.get("key", string.message), locale)
