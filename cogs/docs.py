"""Team documents: /docs add|list|remove, /ask, files on a mention, and the watched upload channel."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserError
from bot.llm import Who
from bot.text import split_message, truncate
from bot.ui import NO_MENTIONS, Throttled
from cogs.errors import describe
from index.library import AddResult, Library, Where
from index.query import Answer, Answerer

log = logging.getLogger(__name__)
SCOPE_CHOICES = [
    app_commands.Choice(name="server (every channel here)", value="server"),
    app_commands.Choice(name="channel (this channel and its threads)", value="channel"),
]


def where_of(channel: object, guild_id: int | None, user_id: int) -> Where:
    """The scope context of a channel, thread or DM."""
    parent = getattr(channel, "parent_id", None) if isinstance(channel, discord.Thread) else None
    return Where(guild_id, getattr(channel, "id", user_id), user_id, parent)


def summary_line(result: AddResult | UserError, name: str) -> str:
    """One line of the upload summary."""
    if isinstance(result, UserError):
        return f"⚠️ **{name}**: {result.message}"
    doc = result.record
    if result.status == "unchanged":
        return f"⏭️ **{doc.name}** is already indexed (same content), nothing to do."
    pages = f"{doc.pages} pages, " if doc.pages else ""
    verb = "replaced the earlier version" if result.status == "replaced" else "indexed"
    chunks = f"{doc.chunks} chunk{'s' if doc.chunks != 1 else ''}"
    return f"✅ **{doc.name}** {verb}: {pages}{chunks} in {result.seconds:.1f} s."


def sources_embed(answer: Answer) -> discord.Embed:
    """The sources of an answer, numbered like its citations."""
    embed = discord.Embed(title="Sources", colour=discord.Colour.blurple())
    for s in answer.sources[:10]:
        where = f" — {s.location}" if s.location else ""
        embed.add_field(
            name=truncate(f"[{s.number}] {s.filename}{where}", 250), value=s.excerpt or "…", inline=False
        )
    return embed


def docs_embed(docs: Sequence) -> discord.Embed:
    """The documents a channel may see."""
    embed = discord.Embed(title=f"Documents here ({len(docs)})", colour=discord.Colour.blurple())
    lines = [
        f"**{d.name}** · {d.kind} · {d.size / 1024:.0f} KB · {d.chunks} chunks · {d.scope} · "
        f"added by {d.uploader_name} <t:{int(d.created_at)}:d>"
        for d in docs
    ]
    embed.description = (
        truncate("\n".join(lines), 4000) if lines else "No documents yet: add some with `/docs add`."
    )
    return embed


class DocsCog(commands.Cog):
    """Upload documents where the team talks and ask questions answered from them."""

    docs = app_commands.Group(name="docs", description="Your team's documents")

    def __init__(
        self, library: Library, answerer: Answerer, *, max_files: int, watch_channels: frozenset[int]
    ) -> None:
        self.library = library
        self.answerer = answerer
        self.max_files = max_files
        self.watch_channels = watch_channels

    # --- the one upload pipeline ------------------------------------------------------------

    async def ingest(
        self,
        attachments: Sequence[discord.Attachment],
        where: Where,
        user: discord.abc.User,
        scope: str,
        show: Throttled,
    ) -> str:
        """Index each attachment independently; returns the summary to show."""
        if len(attachments) > self.max_files:
            raise UserError(
                f"That's {len(attachments)} files; I take at most {self.max_files} at once. "
                "Please upload them in smaller groups.",
                kind="too_many_files",
            )
        lines = []
        for attachment in attachments:
            try:
                self.library.check_size(attachment.filename, attachment.size)
                data = await attachment.read()
                result: AddResult | UserError = await self.library.add(
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
            lines.append(summary_line(result, attachment.filename))
        return "\n".join(lines)

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
        await interaction.response.defer(thinking=True)
        files = [f for f in (file, file2, file3) if f is not None]
        where = where_of(interaction.channel, interaction.guild_id, interaction.user.id)
        show = Throttled(lambda text: interaction.edit_original_response(content=text))
        summary = await self.ingest(files, where, interaction.user, scope.value if scope else "server", show)
        await interaction.edit_original_response(content=summary, allowed_mentions=NO_MENTIONS)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Index files posted in a watched channel or attached to a message that mentions the bot."""
        if message.author.bot or not message.attachments:
            return
        me = message.guild.me if message.guild else message._state.user
        watched = message.channel.id in self.watch_channels
        mentioned = me is not None and me in message.mentions
        if not (watched or mentioned or message.guild is None):
            return
        files = [a for a in message.attachments if not (a.content_type or "").startswith("image/")]
        if not files:
            return
        where = where_of(message.channel, message.guild.id if message.guild else None, message.author.id)
        status = await message.reply(
            "📄 Reading your files…", mention_author=False, allowed_mentions=NO_MENTIONS
        )
        show = Throttled(lambda text: status.edit(content=text))
        try:
            summary = await self.ingest(files, where, message.author, "server", show)
        except Exception as exc:  # a bad upload must never take the listener down
            summary = f"⚠️ {describe(exc, context='upload from a message')}"
        await status.edit(content=summary, allowed_mentions=NO_MENTIONS)

    # --- browsing and removing --------------------------------------------------------------

    @docs.command(name="list", description="The documents this channel can use")
    async def docs_list(self, interaction: discord.Interaction) -> None:
        """Name, size, chunks, uploader and date of each visible document."""
        where = where_of(interaction.channel, interaction.guild_id, interaction.user.id)
        docs = await self.library.visible(where)
        await interaction.response.send_message(embed=docs_embed(docs), ephemeral=True)

    @docs.command(name="remove", description="Remove a document (its uploader or Manage Server)")
    @app_commands.describe(document="The document to remove")
    async def docs_remove(self, interaction: discord.Interaction, document: str) -> None:
        """Remove one document from the index."""
        where = where_of(interaction.channel, interaction.guild_id, interaction.user.id)
        can_manage = interaction.guild_id is None or interaction.permissions.manage_guild
        doc = await self.library.remove(document, where, user_id=interaction.user.id, can_manage=can_manage)
        await interaction.response.send_message(
            f"Removed **{doc.name}**.", ephemeral=True, allowed_mentions=NO_MENTIONS
        )

    @docs_remove.autocomplete("document")
    async def _document_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        where = where_of(interaction.channel, interaction.guild_id, interaction.user.id)
        wanted = current.casefold()
        docs = [d for d in await self.library.visible(where) if wanted in d.name.casefold()]
        return [
            app_commands.Choice(name=truncate(f"{d.name} ({d.scope})", 100), value=d.id) for d in docs[:25]
        ]

    # --- asking -----------------------------------------------------------------------------

    @app_commands.command(
        name="ask", description="Answer from the documents this channel can see, with sources"
    )
    @app_commands.describe(question="Your question")
    async def ask(self, interaction: discord.Interaction, question: app_commands.Range[str, 1, 1000]) -> None:
        """A cited answer from the documents in scope."""
        await interaction.response.defer(thinking=True)
        where = where_of(interaction.channel, interaction.guild_id, interaction.user.id)
        answer = await self.answerer.answer(
            question, where, who=Who(interaction.guild_id, interaction.user.id, "ask")
        )
        pages = split_message(answer.text) or ["…"]
        embeds = [sources_embed(answer)] if answer.sources else []
        await interaction.edit_original_response(
            content=pages[0], embeds=embeds if len(pages) == 1 else [], allowed_mentions=NO_MENTIONS
        )
        for i, page in enumerate(pages[1:], start=2):
            last = i == len(pages)
            await interaction.followup.send(page, embeds=embeds if last else [], allowed_mentions=NO_MENTIONS)
