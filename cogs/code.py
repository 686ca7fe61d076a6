"""Code help: /code explain|review|fix|tests|convert, a paste-in box, and the Explain/Review code menus."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import discord
from discord import app_commands
from discord.ext import commands

from bot.code import (
    TITLES,
    CodeHelp,
    CodeRequest,
    Snippet,
    language_name,
    snippets_from_text,
    too_large,
)
from bot.errors import UserError
from bot.files import CODE_LANGUAGES
from bot.i18n import t
from bot.limits import Limits
from bot.ui import InteractionTarget, LiveReply, locale_of, message_parts
from cogs.access import admit_interaction
from cogs.errors import describe, reply_error

log = logging.getLogger(__name__)

MODAL_MAX = 4000
PLACEHOLDER = "… reading the code"
NO_CODE_IN_MESSAGE = (
    "I found no code in that message: it has no text, no code blocks and no code files I can read."
)
EMPTY_MODAL = "The code box was empty, so there is nothing to work on. Run the command again and paste code."
POPULAR = (
    "python", "javascript", "typescript", "go", "rust", "java", "csharp", "cpp", "c", "kotlin", "swift",
    "ruby", "php", "bash", "sql",
)
OPTION_HELP = {
    "code": "The code (for several lines, leave this empty and paste into the box that opens)",
    "file": "A code file to work on",
    "instructions": "Anything to focus on, e.g. 'focus on security' or 'use pytest'",
}
Code = app_commands.Range[str, 1, 6000]
Instructions = app_commands.Range[str, 1, 500]
Language = app_commands.Range[str, 1, 40]


def is_media(attachment: discord.Attachment) -> bool:
    """Images, video and audio: attached alongside code, never code themselves."""
    return (attachment.content_type or "").split("/")[0] in ("image", "video", "audio")


async def language_choices(interaction: discord.Interaction, current: str) -> list[app_commands.Choice[str]]:
    """Languages matching what was typed, the common ones first."""
    typed = current.strip().lower()
    known = [*POPULAR, *sorted(set(CODE_LANGUAGES.values()) - set(POPULAR))]
    found = [lang for lang in known if typed in lang or typed in language_name(lang).lower()]
    return [app_commands.Choice(name=language_name(lang), value=lang) for lang in found[:25]]


class CodeModal(discord.ui.Modal):
    """A box to paste code into when the command got neither `code` nor `file`."""

    def __init__(self, cog: CodeCog, task: str, language: str | None, instructions: str | None) -> None:
        super().__init__(title=f"{TITLES[task]}: paste your code", timeout=900)
        self.cog = cog
        self.task = task
        self.language = language
        self.code = discord.ui.TextInput(
            label="Code",
            style=discord.TextStyle.paragraph,
            placeholder=f"Paste the code here (up to {MODAL_MAX} characters)",
            max_length=MODAL_MAX,
        )
        self.given = instructions or ""
        self.instructions = discord.ui.TextInput(
            label="Instructions (optional)",
            placeholder="e.g. focus on security, use pytest",
            required=False,
            max_length=500,
        )
        self.add_item(self.code)
        self.add_item(self.instructions)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Run the task on the pasted code."""
        if not self.code.value.strip():
            raise UserError(EMPTY_MODAL, kind="empty")
        snippets, context = snippets_from_text(self.code.value)
        await self.cog.answer(
            interaction,
            self.task,
            snippets,
            language=self.language,
            instructions="\n".join(text for text in (self.given, self.instructions.value.strip()) if text),
            context=context,
            admitted=True,
        )

    async def on_error(self, interaction: discord.Interaction, error: Exception) -> None:
        """Bad input and failures answer the person ephemerally, like the command tree does."""
        text = describe(error, context=f"code modal ({self.task})", locale=locale_of(interaction))
        await reply_error(interaction, text)


class CodeCog(commands.Cog):
    """Explain, review, fix, test and convert code; each runs as its own request."""

    code_group = app_commands.Group(
        name="code", description="Help with code: explain, review, fix, write tests, convert"
    )

    def __init__(self, helper: CodeHelp, tree: app_commands.CommandTree, *, limits: Limits) -> None:
        self.helper = helper
        self.tree = tree
        self.limits = limits
        self.menus = [
            app_commands.ContextMenu(name="Explain code", callback=self.explain_message),
            app_commands.ContextMenu(name="Review code", callback=self.review_message),
        ]

    async def cog_load(self) -> None:
        """Context menus can't live in a cog class, so the cog adds them to the tree itself."""
        for menu in self.menus:
            self.tree.add_command(menu)

    async def cog_unload(self) -> None:
        """Remove the context menus again."""
        for menu in self.menus:
            self.tree.remove_command(menu.name, type=menu.type)

    # --- slash commands ---------------------------------------------------------------------

    @code_group.command(name="explain", description="Explain what code does, step by step")
    @app_commands.describe(language="The code's language (detected when left out)", **OPTION_HELP)
    @app_commands.autocomplete(language=language_choices)
    async def explain(
        self,
        interaction: discord.Interaction,
        code: Code | None = None,
        file: discord.Attachment | None = None,
        language: Language | None = None,
        instructions: Instructions | None = None,
    ) -> None:
        """Explain code."""
        await self.slash(interaction, "explain", code, file, language, instructions)

    @code_group.command(name="review", description="Review code: numbered findings, bugs and security first")
    @app_commands.describe(language="The code's language (detected when left out)", **OPTION_HELP)
    @app_commands.autocomplete(language=language_choices)
    async def review(
        self,
        interaction: discord.Interaction,
        code: Code | None = None,
        file: discord.Attachment | None = None,
        language: Language | None = None,
        instructions: Instructions | None = None,
    ) -> None:
        """Review code."""
        await self.slash(interaction, "review", code, file, language, instructions)

    @code_group.command(name="fix", description="Fix bugs: the corrected code as a file (and a diff)")
    @app_commands.describe(language="The code's language (detected when left out)", **OPTION_HELP)
    @app_commands.autocomplete(language=language_choices)
    async def fix(
        self,
        interaction: discord.Interaction,
        code: Code | None = None,
        file: discord.Attachment | None = None,
        language: Language | None = None,
        instructions: Instructions | None = None,
    ) -> None:
        """Fix code."""
        await self.slash(interaction, "fix", code, file, language, instructions)

    @code_group.command(name="tests", description="Write a runnable test file for code")
    @app_commands.describe(language="The code's language (detected when left out)", **OPTION_HELP)
    @app_commands.autocomplete(language=language_choices)
    async def tests(
        self,
        interaction: discord.Interaction,
        code: Code | None = None,
        file: discord.Attachment | None = None,
        language: Language | None = None,
        instructions: Instructions | None = None,
    ) -> None:
        """Write tests for code."""
        await self.slash(interaction, "tests", code, file, language, instructions)

    @code_group.command(name="convert", description="Convert code to another language, idiomatically")
    @app_commands.describe(language="The language to convert to", **OPTION_HELP)
    @app_commands.autocomplete(language=language_choices)
    async def convert(
        self,
        interaction: discord.Interaction,
        language: Language,
        code: Code | None = None,
        file: discord.Attachment | None = None,
        instructions: Instructions | None = None,
    ) -> None:
        """Convert code to another language."""
        await self.slash(interaction, "convert", code, file, language, instructions)

    async def slash(
        self,
        interaction: discord.Interaction,
        task: str,
        code: str | None,
        file: discord.Attachment | None,
        language: str | None,
        instructions: str | None,
    ) -> None:
        """Take the code from the options, or open the paste box when there is none."""
        if file is None and not (code or "").strip():
            await admit_interaction(self.limits, "code", interaction)  # before anyone pastes into the box
            await interaction.response.send_modal(CodeModal(self, task, language, instructions))
            return
        snippets, context = snippets_from_text(code or "")
        if file is not None:
            snippets.append(await self.read_attachment(file))
        await self.answer(
            interaction, task, snippets, language=language, instructions=instructions, context=context
        )

    # --- message context menus --------------------------------------------------------------

    async def explain_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Explain the code in a message."""
        await self.from_message(interaction, message, "explain")

    async def review_message(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Review the code in a message."""
        await self.from_message(interaction, message, "review")

    async def from_message(
        self, interaction: discord.Interaction, message: discord.Message, task: str
    ) -> None:
        """The message's code blocks (or its text) and code files; files that can't be read are noted."""
        content, attachments = message_parts(message)  # a forwarded message's are in its snapshot
        snippets, context = snippets_from_text(content)
        # All at once: one CDN round trip, not one per file, before Discord's 3 s to answer run out.
        wanted = [a for a in attachments if not is_media(a)]
        read = await asyncio.gather(*(self.read_attachment(a) for a in wanted), return_exceptions=True)
        files = [r for r in read if isinstance(r, Snippet)]
        refused = [r for r in read if isinstance(r, UserError)]
        failed = [r for r in read if isinstance(r, BaseException) and not isinstance(r, UserError)]
        if failed:
            raise failed[0]
        if files and "```" not in content:
            # Without code blocks, the text next to attached files is the question, not the code.
            snippets, context = [], content.strip()
        if not snippets and not files:
            raise refused[0] if refused else UserError(NO_CODE_IN_MESSAGE, kind="no_code")
        notes = [f"_Skipped a file: {error.message}_" for error in refused]
        await self.answer(interaction, task, [*snippets, *files], context=context, notes=notes)

    # --- shared -----------------------------------------------------------------------------

    async def read_attachment(self, attachment: discord.Attachment) -> Snippet:
        """Download and check a code file (size first, so huge files are never downloaded)."""
        if attachment.size > self.helper.max_file_bytes:
            raise too_large(attachment.filename, attachment.size, self.helper.max_file_bytes)
        data = await attachment.read()
        return await asyncio.to_thread(self.helper.read_file, attachment.filename, data)

    async def answer(
        self,
        interaction: discord.Interaction,
        task: str,
        snippets: list[Snippet],
        *,
        language: str | None = None,
        instructions: str | None = None,
        context: str = "",
        notes: Sequence[str] = (),
        admitted: bool = False,
    ) -> None:
        """Check the request (bad input raises before anything is shown), then stream the answer."""
        request = CodeRequest(
            task=task,
            snippets=snippets,
            channel_id=interaction.channel_id or interaction.user.id,
            guild_id=interaction.guild_id,
            author_id=interaction.user.id,
            author_name=interaction.user.display_name,
            target=language if task == "convert" else None,
            instructions=instructions or "",
            context=context,
            notes=list(notes),
        )
        self.helper.prepare(request, None if task == "convert" else language)
        if not admitted:
            await admit_interaction(self.limits, "code", interaction)
        locale = locale_of(interaction)
        live = LiveReply(InteractionTarget(interaction), locale=locale)
        try:
            await live.start(t(PLACEHOLDER, locale))
            result = await self.helper.run(request, on_text=live.update)
            await live.finish(result.text, [t(note, locale) for note in result.notes], result.files)
        except Exception as exc:  # a failed request must never leave "reading the code" behind
            text = describe(exc, context=f"code {task} in channel {request.channel_id}", locale=locale)
            try:
                if live.sent:
                    await live.fail(text)
                else:
                    await reply_error(interaction, text)
            except discord.HTTPException as send_error:
                log.warning("could not show a code help error: %s", send_error.status)
        finally:  # cancelled (the bot shutting down): stop following the stream
            await live.stop()
