"""Team documents: /docs add|list|remove, /ask, files on a mention, and the watched upload channel."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserError
from bot.i18n import Msg, t
from bot.limits import Limits
from bot.llm import Who
from bot.server_settings import DocsSwitch, ServerSettings
from bot.text import split_message, truncate
from bot.ui import NO_MENTIONS, Throttled, locale_of, message_parts, respond, sources_embed
from cogs.access import admit_interaction, admit_message
from cogs.errors import describe
from index.where import Where

if TYPE_CHECKING:
    from bot.documents import Documents
    from index.library import AddResult

log = logging.getLogger(__name__)
SCOPE_CHOICES = [
    app_commands.Choice(name="server (every channel here)", value="server"),
    app_commands.Choice(name="channel (this channel and its threads)", value="channel"),
]
CHAT_MODES = [
    app_commands.Choice(name="on (chat uses the documents)", value="on"),
    app_commands.Choice(name="off (chat doesn't use them)", value="off"),
    app_commands.Choice(name="server default (follow the server's setting)", value="default"),
]
DECIDED_BY = {
    "channel": "this channel's setting",
    "parent": "the parent channel's setting",
    "server": "the server's setting",
    "default": "the default",
}


def parent_of(channel: object) -> int | None:
    """The channel a thread belongs to (None for anything else)."""
    return getattr(channel, "parent_id", None) if isinstance(channel, discord.Thread) else None


def where_of(channel: object, guild_id: int | None, user_id: int) -> Where:
    """The scope context of a channel, thread or DM."""
    return Where(guild_id, getattr(channel, "id", user_id), user_id, parent_of(channel))


def is_private(channel: object) -> bool:
    """Whether some of the server can't see this channel (@everyone may not view it, or a private thread):
    files posted there are used there only, unless the uploader says otherwise."""
    guild = getattr(channel, "guild", None)
    if guild is None:
        return False  # a DM: the uploader's own space anyway
    if isinstance(channel, discord.Thread):
        if channel.type is discord.ChannelType.private_thread:
            return True
        channel = channel.parent
    if not isinstance(channel, discord.abc.GuildChannel):
        return True  # can't tell: the side that leaks nothing
    return not channel.permissions_for(guild.default_role).view_channel


def default_scope(channel: object) -> str:
    """Where an upload is used when nobody chose: the channel if it is private, else the whole server."""
    return "channel" if is_private(channel) else "server"


SCOPE_LINES = {
    "user": "🔒 Only you can use these, here in our DMs.",
    "channel": "🔒 Used in this channel only (and its threads).",
    "private": "🔒 This channel is private, so these are used in it only (and its threads).",
    "server": "📚 Used in every channel of this server.",
}


def scope_line(where: Where, scope: str, chosen: bool, locale: object = None) -> str:
    """Who can draw on the files just indexed, in the reader's language."""
    kind = where.scope_key(scope)[0]
    if kind == "channel" and not chosen:
        kind = "private"  # the default made it so: say why
    return t(SCOPE_LINES[kind], locale)


def replies_to(message: discord.Message, me: object) -> bool:
    """Whether the message replies to one of the bot's (`me`) messages."""
    ref = message.reference.resolved if message.reference else None
    return isinstance(ref, discord.Message) and ref.author.id == getattr(me, "id", None)


def docs_switch_line(switch: DocsSwitch, locale: object = None) -> str:
    """Whether chat here draws on the documents, and which setting says so, in the reader's language."""
    template = (
        "Chat here draws on the documents this channel can see ({why})."
        if switch.enabled
        else "Chat here doesn't draw on the documents ({why})."
    )
    return t(template, locale, why=Msg(DECIDED_BY[switch.decided_by]))


def summary_line(result: AddResult | UserError, name: str, locale: object = None) -> str:
    """One line of the upload summary, in the reader's language."""
    if isinstance(result, UserError):
        return f"⚠️ **{name}**: {result.localized(locale)}"
    doc = result.record
    if result.status == "unchanged":
        return t("⏭️ **{name}** is already indexed (same content), nothing to do.", locale, name=doc.name)
    pages = Msg("{count} pages, ", count=doc.pages) if doc.pages else ""
    chunks = Msg("1 chunk") if doc.chunks == 1 else Msg("{count} chunks", count=doc.chunks)
    template = (
        "✅ **{name}** replaced the earlier version: {pages}{chunks} in {seconds:.1f} s."
        if result.status == "replaced"
        else "✅ **{name}** indexed: {pages}{chunks} in {seconds:.1f} s."
    )
    return t(template, locale, name=doc.name, pages=pages, chunks=chunks, seconds=result.seconds)


def docs_embed(docs: Sequence, locale: object = None) -> discord.Embed:
    """The documents a channel may see."""
    embed = discord.Embed(
        title=t("Documents here ({count})", locale, count=len(docs)), colour=discord.Colour.blurple()
    )
    lines = [
        t(
            "**{name}** · {kind} · {size} · {chunks} · {scope} · added by {uploader} {when}",
            locale,
            name=d.name,
            kind=d.kind,
            size=Msg("{kb:.0f} KB", kb=d.size / 1024) if d.size >= 1024 else Msg("<1 KB"),
            chunks=Msg("1 chunk") if d.chunks == 1 else Msg("{count} chunks", count=d.chunks),
            scope=Msg(d.scope),
            uploader=d.uploader_name,
            when=f"<t:{int(d.created_at)}:d>",
        )
        for d in docs
    ]
    empty = t("No documents yet: add some with `/docs add`.", locale)
    embed.description = whole_lines(lines, 4000, locale) if lines else empty
    return embed


def whole_lines(lines: Sequence[str], limit: int, locale: object = None) -> str:
    """As many whole lines as fit in `limit` characters, then how many were left out."""
    shown: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        left = len(lines) - i - 1  # after this one: room is kept to say how many didn't fit
        room = limit - (len(t("…and {count} more.", locale, count=left)) + 1 if left else 0)
        if used + len(line) > room:
            return "\n".join([*shown, t("…and {count} more.", locale, count=left + 1)])
        shown.append(line)
        used += len(line) + 1
    return "\n".join(shown)


class DocsCog(commands.Cog):
    """Upload documents where the team talks and ask questions answered from them."""

    docs = app_commands.Group(name="docs", description="Your team's documents")

    def __init__(
        self,
        documents: Documents,
        *,
        max_files: int,
        watch_channels: frozenset[int],
        limits: Limits,
        server: ServerSettings,
    ) -> None:
        self.documents = documents  # the index opens while the bot connects: each use waits for it
        self.max_files = max_files
        self.watch_channels = watch_channels
        self.limits = limits
        self.server = server

    # --- the one upload pipeline ------------------------------------------------------------

    async def ingest(
        self,
        attachments: Sequence[discord.Attachment],
        where: Where,
        user: discord.abc.User,
        scope: str,
        show: Throttled,
        locale: object = None,
        *,
        chosen: bool = True,
    ) -> list[str]:
        """Index each attachment independently; returns the summary to show, in messages that fit Discord
        (ten refused files explained would pass its 2000 characters). `chosen`: the uploader picked the
        scope (else it is this channel's default)."""
        if len(attachments) > self.max_files:
            raise UserError(
                "That's {count} files; I take at most {limit} at once. Please upload them in smaller groups.",
                kind="too_many_files",
                params={"count": len(attachments), "limit": self.max_files},
            )
        library = await self.documents.library()
        lines = []
        indexed = False
        for attachment in attachments:
            try:
                library.check_size(attachment.filename, attachment.size)
                data = await attachment.read()
                result: AddResult | UserError = await library.add(
                    data,
                    attachment.filename,
                    where,
                    uploader_id=user.id,
                    uploader_name=getattr(user, "display_name", user.name),
                    scope=scope,
                    progress=show,
                )
            except UserError as exc:
                result = exc
            except discord.HTTPException:
                result = UserError(
                    "I couldn't download this file from Discord. Please try again.", kind="download"
                )
            lines.append(summary_line(result, attachment.filename, locale))
            indexed = indexed or not isinstance(result, UserError)
        if indexed:
            lines.append(scope_line(where, scope, chosen, locale))
        return split_message("\n".join(lines))

    @docs.command(name="add", description="Add documents for the bot to answer from")
    @app_commands.describe(file="A document (txt, md, pdf, docx, html, csv or code)", scope="Who may use it")
    @app_commands.choices(scope=SCOPE_CHOICES)
    async def docs_add(
        self,
        interaction: discord.Interaction,
        file: discord.Attachment,
        file2: discord.Attachment | None = None,
        file3: discord.Attachment | None = None,
        scope: app_commands.Choice[str] | None = None,
    ) -> None:
        """Index up to three files with progress and a summary."""
        await admit_interaction(self.limits, "docs", interaction)
        await interaction.response.defer(thinking=True)
        files = [f for f in (file, file2, file3) if f is not None]
        where = where_of(interaction.channel, interaction.guild_id, interaction.user.id)
        locale = locale_of(interaction)
        show = Throttled(lambda text: interaction.edit_original_response(content=t(text, locale)))
        first, *more = await self.ingest(
            files, where, interaction.user, scope.value if scope else default_scope(interaction.channel),
            show, locale, chosen=scope is not None,
        )
        await interaction.edit_original_response(content=first, allowed_mentions=NO_MENTIONS)
        for part in more:
            await interaction.followup.send(part, allowed_mentions=NO_MENTIONS)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Index files posted in a watched channel or attached to a message that mentions the bot."""
        attachments = message_parts(message)[1]  # a forwarded file is the forwarded message's
        if message.author.bot or not attachments:
            return
        me = message.guild.me if message.guild else message._state.user
        watched = message.channel.id in self.watch_channels or (
            message.guild is not None
            and (await self.server.config(message.guild.id)).upload_channel == message.channel.id
        )
        mentioned = me is not None and (me in message.mentions or replies_to(message, me))
        if not (watched or mentioned or message.guild is None):
            return
        files = [a for a in attachments if not (a.content_type or "").startswith("image/")]
        if not files:
            return
        try:
            await admit_message(self.limits, "docs", message)
        except UserError as refused:  # before "Reading your files…": nothing is left half-done
            await respond(message, refused.localized(locale_of(message)))
            return
        locale = locale_of(message)
        where = where_of(message.channel, message.guild.id if message.guild else None, message.author.id)
        status = await respond(message, t("📄 Reading your files…", locale))
        show = Throttled(lambda text: status.edit(content=t(text, locale)))
        try:
            first, *more = await self.ingest(
                files, where, message.author, default_scope(message.channel), show, locale, chosen=False
            )
        except Exception as exc:  # a bad upload must never take the listener down
            first, more = f"⚠️ {describe(exc, context='upload from a message', locale=locale)}", []
        await status.edit(content=first, allowed_mentions=NO_MENTIONS)
        for part in more:
            await message.channel.send(part, allowed_mentions=NO_MENTIONS)

    # --- browsing and removing --------------------------------------------------------------

    @docs.command(name="list", description="The documents this channel can use")
    async def docs_list(self, interaction: discord.Interaction) -> None:
        """Name, size, chunks, uploader and date of each visible document."""
        where = where_of(interaction.channel, interaction.guild_id, interaction.user.id)
        docs = await self.documents.visible(where)  # from the database: also while the index can't open
        locale = locale_of(interaction)
        embed = docs_embed(docs, locale)
        switch = await self.server.docs_in_chat(where.channel_id, where.guild_id, where.parent_id)
        change = t("Change it with `/docs chat`.", locale)
        embed.set_footer(text=f"{docs_switch_line(switch, locale)}\n{change}")
        await interaction.response.send_message(embed=embed, ephemeral=True)

    @docs.command(
        name="chat", description="Whether chat in this channel uses the documents (needs Manage Channels)"
    )
    @app_commands.describe(mode="On, off, or follow the server's setting")
    @app_commands.choices(mode=CHAT_MODES)
    async def docs_chat(self, interaction: discord.Interaction, mode: app_commands.Choice[str]) -> None:
        """Set this channel's docs-in-chat switch and say what now applies."""
        if interaction.guild_id is not None and not interaction.permissions.manage_channels:
            raise UserError(
                "Choosing whether chat here uses the documents needs the Manage Channels permission.",
                kind="forbidden",
            )
        where = where_of(interaction.channel, interaction.guild_id, interaction.user.id)
        enabled = {"on": True, "off": False}.get(mode.value)
        switch = await self.server.set_channel_docs_in_chat(
            where.channel_id, where.guild_id, enabled, where.parent_id
        )
        await interaction.response.send_message(
            "✅ " + docs_switch_line(switch, locale_of(interaction)), ephemeral=True
        )

    @docs.command(name="remove", description="Remove a document (its uploader or Manage Server)")
    @app_commands.describe(document="The document to remove")
    async def docs_remove(self, interaction: discord.Interaction, document: str) -> None:
        """Remove one document from the index."""
        where = where_of(interaction.channel, interaction.guild_id, interaction.user.id)
        can_manage = interaction.guild_id is None or interaction.permissions.manage_guild
        # A removal waits for a new version of the same file going in: longer than Discord's 3 s to answer.
        await interaction.response.defer(ephemeral=True, thinking=True)
        library = await self.documents.library()
        doc = await library.remove(document, where, user_id=interaction.user.id, can_manage=can_manage)
        await interaction.followup.send(
            t("Removed **{name}**.", locale_of(interaction), name=doc.name),
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @docs_remove.autocomplete("document")
    async def _document_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        where = where_of(interaction.channel, interaction.guild_id, interaction.user.id)
        wanted = current.casefold()
        locale = locale_of(interaction)
        docs = [d for d in await self.documents.visible(where) if wanted in d.name.casefold()]
        return [
            app_commands.Choice(name=truncate(f"{d.name} ({t(d.scope, locale)})", 100), value=d.id)
            for d in docs[:25]
        ]

    # --- asking -----------------------------------------------------------------------------

    @app_commands.command(
        name="ask", description="Answer from the documents this channel can see, with sources"
    )
    @app_commands.describe(question="Your question")
    async def ask(self, interaction: discord.Interaction, question: app_commands.Range[str, 1, 1000]) -> None:
        """A cited answer from the documents in scope."""
        await admit_interaction(self.limits, "ask", interaction)
        await interaction.response.defer(thinking=True)
        where = where_of(interaction.channel, interaction.guild_id, interaction.user.id)
        answer = await (await self.documents.answerer()).answer(
            question,
            where,
            who=Who(interaction.guild_id, interaction.user.id, "ask"),
            model=await self.server.chat_model(interaction.guild_id),
        )
        locale = locale_of(interaction)
        text = answer.text if answer.found else t(answer.text, locale)
        pages = split_message(text) or ["…"]
        embeds = [sources_embed(answer.sources, locale)] if answer.sources else []
        await interaction.edit_original_response(
            content=pages[0], embeds=embeds if len(pages) == 1 else [], allowed_mentions=NO_MENTIONS
        )
        for i, page in enumerate(pages[1:], start=2):
            last = i == len(pages)
            await interaction.followup.send(page, embeds=embeds if last else [], allowed_mentions=NO_MENTIONS)
