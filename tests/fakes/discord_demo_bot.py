"""A tiny discord.py bot for the Discord harness tests (test_discord_fakes.py).

It has every kind of entry point the harness must drive: listeners, slash commands (with
subcommands, choices, ranges, autocomplete and a permission check), a context menu, a modal,
a persistent view and a one-off view.
"""

from __future__ import annotations

import asyncio
import io

import discord
from discord import app_commands
from discord.ext import commands

FRUITS = ["apple", "apricot", "banana", "cherry"]
NO_PINGS = discord.AllowedMentions.none()


# --------------------------------------------------------------------------- a tiny bot


class PasteModal(discord.ui.Modal, title="Paste code"):
    """A modal whose submit replies with what was pasted."""

    code: discord.ui.TextInput[PasteModal] = discord.ui.TextInput(
        label="Code", style=discord.TextStyle.paragraph, custom_id="paste:code"
    )
    note: discord.ui.TextInput[PasteModal] = discord.ui.TextInput(label="Note", required=False)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        """Echo the pasted code."""
        await interaction.response.send_message(
            f"got {len(self.code.value)} chars: {self.code.value}", ephemeral=True
        )


class PanelView(discord.ui.View):
    """A persistent view: survives restarts because of its custom_id and timeout=None."""

    def __init__(self) -> None:
        super().__init__(timeout=None)

    @discord.ui.button(label="Ping", custom_id="panel:ping", style=discord.ButtonStyle.primary)
    async def ping(self, interaction: discord.Interaction, button: discord.ui.Button[PanelView]) -> None:
        """Answer the click."""
        await interaction.response.send_message(f"pong for {interaction.user.display_name}", ephemeral=True)

    @discord.ui.select(
        custom_id="panel:size",
        options=[discord.SelectOption(label=size, value=size[0]) for size in ("small", "medium", "large")],
        max_values=2,
    )
    async def size(self, interaction: discord.Interaction, select: discord.ui.Select[PanelView]) -> None:
        """Answer the selection."""
        await interaction.response.send_message(f"sizes {select.values}", ephemeral=True)


class ConfirmView(discord.ui.View):
    """A one-off view the command waits on."""

    def __init__(self) -> None:
        super().__init__(timeout=60)
        self.value: bool | None = None

    @discord.ui.button(label="Yes", style=discord.ButtonStyle.success)
    async def yes(self, interaction: discord.Interaction, button: discord.ui.Button[ConfirmView]) -> None:
        """Confirm."""
        self.value = True
        await interaction.response.edit_message(content="confirmed", view=None)
        self.stop()


class DemoCog(commands.Cog):
    """Every kind of entry point the harness must drive."""

    persona = app_commands.Group(name="persona", description="Channel persona")

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self.seen: list[discord.Message] = []
        self.interactions: list[discord.Interaction] = []
        self.menu = app_commands.ContextMenu(name="Explain code", callback=self.explain)

    async def cog_load(self) -> None:
        """Register the context menu."""
        self.bot.tree.add_command(self.menu)

    @commands.Cog.listener()
    async def on_message(self, message: discord.Message) -> None:
        """Reply when mentioned, reporting attachment sizes."""
        if message.author.bot:
            return
        self.seen.append(message)
        assert self.bot.user is not None
        if not self.bot.user.mentioned_in(message):
            return
        sizes = [len(await a.read()) for a in message.attachments]
        text = message.content.replace(self.bot.user.mention, "").strip()
        await message.reply(
            f"{message.author.display_name} said {text!r} {sizes} <@{message.author.id}>",
            allowed_mentions=NO_PINGS,
        )

    @app_commands.command(name="upload", description="Shout a file back")
    @app_commands.rename(upload_file="file")
    async def upload(
        self, interaction: discord.Interaction, note: str, upload_file: discord.Attachment
    ) -> None:
        """Defer, then follow up with a file."""
        self.interactions.append(interaction)
        await interaction.response.defer(thinking=True)
        data = await upload_file.read()
        await interaction.followup.send(
            f"{note}: {upload_file.filename} {len(data)}",
            file=discord.File(io.BytesIO(data.upper()), filename="shout.txt"),
            allowed_mentions=NO_PINGS,
        )

    @persona.command(name="set", description="Set the persona")
    @app_commands.checks.has_permissions(manage_channels=True)
    async def persona_set(self, interaction: discord.Interaction, prompt: str) -> None:
        """Needs Manage Channels."""
        await interaction.response.send_message(f"persona: {prompt}", ephemeral=True)

    @app_commands.command(name="paste", description="Open a modal")
    async def paste(self, interaction: discord.Interaction) -> None:
        """Open the paste modal."""
        await interaction.response.send_modal(PasteModal())

    @app_commands.command(name="pick", description="Pick a fruit")
    async def pick(self, interaction: discord.Interaction, fruit: str) -> None:
        """Answer with the fruit."""
        await interaction.response.send_message(f"picked {fruit}")

    @pick.autocomplete("fruit")
    async def fruit_autocomplete(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """Fruits containing what was typed."""
        return [app_commands.Choice(name=f.title(), value=f) for f in FRUITS if current.lower() in f]

    @app_commands.command(name="panel", description="Post the persistent panel")
    async def panel(self, interaction: discord.Interaction) -> None:
        """Post a message with the persistent view."""
        await interaction.response.send_message("panel", view=PanelView())

    @app_commands.command(name="confirm", description="Wait for a click")
    async def confirm(self, interaction: discord.Interaction) -> None:
        """Wait on a view, then follow up."""
        view = ConfirmView()
        await interaction.response.send_message("sure?", view=view)
        await view.wait()
        await interaction.followup.send(f"answer: {view.value}")

    @app_commands.command(name="count", description="Bounded number")
    @app_commands.choices(
        size=[app_commands.Choice(name="Small", value=1), app_commands.Choice(name="Big", value=9)]
    )
    async def count(
        self, interaction: discord.Interaction, size: int, n: app_commands.Range[int, 1, 4] = 1
    ) -> None:
        """Choices and ranges."""
        await interaction.response.send_message(f"{size * n}")

    @app_commands.command(name="slow", description="Answers too late")
    async def slow(self, interaction: discord.Interaction) -> None:
        """Sleeps past the interaction deadline."""
        await asyncio.sleep(0.2)
        await interaction.response.send_message("late")

    @app_commands.command(name="tour", description="Many REST routes")
    async def tour(
        self, interaction: discord.Interaction, who: discord.Member, where: discord.TextChannel
    ) -> None:
        """Respond, read and edit the original, ephemeral followup, thread, reaction, delete."""
        await interaction.response.send_message(f"{who.display_name} in #{where.name}")
        original = await interaction.original_response()
        await interaction.edit_original_response(content=f"{original.content} (edited)")
        secret = await interaction.followup.send("secret", ephemeral=True, wait=True)
        await secret.edit(content="secret 2")
        thread = await where.create_thread(name="tour", type=discord.ChannelType.public_thread)
        note = await thread.send("in thread")
        await note.add_reaction("✅")
        await note.delete()

    @app_commands.command(name="name", description="Ask and wait for the next message")
    async def name(self, interaction: discord.Interaction) -> None:
        """Wait for the user's next message."""
        await interaction.response.send_message("What is your name?")
        reply = await self.bot.wait_for("message", check=lambda m: m.author == interaction.user, timeout=30)
        await interaction.followup.send(f"Hello {reply.content}", allowed_mentions=NO_PINGS)

    async def explain(self, interaction: discord.Interaction, message: discord.Message) -> None:
        """Message context menu."""
        await interaction.response.send_message(
            f"explaining {len(message.content)} chars by {message.author.name}", ephemeral=True
        )

    async def cog_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Missing permissions become an ephemeral message."""
        if isinstance(error, app_commands.MissingPermissions):
            await interaction.response.send_message("You need Manage Channels.", ephemeral=True)
        else:
            raise error


class DemoBot(commands.Bot):
    """The bot under test."""

    def __init__(self, *, content: bool = True) -> None:
        intents = discord.Intents.default()
        intents.message_content = content
        super().__init__(command_prefix="!", intents=intents, help_command=None)

    async def setup_hook(self) -> None:
        """Load the cog and re-attach the persistent view."""
        await self.add_cog(DemoCog(self))
        self.add_view(PanelView())
