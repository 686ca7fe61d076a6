"""The Discord harness drives a real commands.Bot: listeners, slash commands, modals, views."""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import discord
import pytest
from discord import app_commands
from discord.ext import commands

from tests.fakes.discord import DiscordWouldRefuse, FakeDiscord, SettleTimeout, Upload

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


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Any attempt to connect anywhere fails the test."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    yield


@pytest.fixture
async def fd() -> AsyncIterator[FakeDiscord]:
    """A started harness around DemoBot."""
    harness = await FakeDiscord(DemoBot()).start()
    yield harness
    await harness.close()


@pytest.fixture
def world(fd: FakeDiscord) -> dict[str, Any]:
    """A guild with a channel, a plain member and a moderator."""
    guild = fd.guild("Team")
    return {
        "guild": guild,
        "general": fd.text_channel(guild, "general"),
        "alice": fd.member(guild, "alice", display_name="Alice"),
        "mod": fd.member(guild, "mod", permissions=discord.Permissions(manage_channels=True)),
    }


def cog(fd: FakeDiscord) -> DemoCog:
    """The DemoCog instance of the current bot."""
    found = fd.bot.get_cog("DemoCog")
    assert isinstance(found, DemoCog)
    return found


# --------------------------------------------------------------------------- messages


async def test_mention_gets_a_reply_without_pings_and_attachment_bytes_are_readable(
    fd: FakeDiscord, world: dict[str, Any]
) -> None:
    general, alice = world["general"], world["alice"]
    message = await fd.send_message(
        general,
        alice,
        "hello there",
        mentions_bot=True,
        attachments=[("notes.txt", b"12345"), Upload("b.bin", b"\x00" * 3)],
    )

    assert isinstance(message, discord.Message)
    assert isinstance(message.author, discord.Member)
    assert await message.attachments[0].read() == b"12345"
    reply = fd.last_sent(general)
    assert reply.content == f"Alice said 'hello there' [5, 3] <@{alice.id}>"
    assert reply.reference is not None and reply.reference["message_id"] == str(message.id)
    assert reply.allowed_mentions == {"parse": []}
    assert not reply.pings_anyone
    assert fd.history(general)[-1]["id"] == str(reply.id)
    fd.assert_clean()


async def test_plain_message_is_seen_but_not_answered(fd: FakeDiscord, world: dict[str, Any]) -> None:
    await fd.send_message(world["general"], world["alice"], "just chatting")

    assert [m.content for m in cog(fd).seen] == ["just chatting"]
    assert fd.sent() == []


async def test_reply_to_the_bot_counts_as_a_mention(fd: FakeDiscord, world: dict[str, Any]) -> None:
    general, alice = world["general"], world["alice"]
    await fd.send_message(general, alice, "first", mentions_bot=True)
    bot_message = fd.last_sent(general)

    message = await fd.send_message(general, alice, "second", reply_to=bot_message)

    assert message is not None and message.reference is not None
    assert message.reference.message_id == bot_message.id
    assert fd.last_sent(general).content.startswith("Alice said 'second'")


async def test_without_message_content_intent_only_mentions_have_content() -> None:
    fd = await FakeDiscord(DemoBot(content=False)).start()
    try:
        guild = fd.guild()
        general, alice = fd.text_channel(guild), fd.member(guild, "alice")
        await fd.send_message(general, alice, "secret")
        await fd.send_message(general, alice, "visible", mentions_bot=True)
        assert [m.content for m in cog(fd).seen] == ["", f"{fd.bot_mention} visible"]
    finally:
        await fd.close()


async def test_dm_send_edit_history_and_limits_through_real_discord_py(
    fd: FakeDiscord, world: dict[str, Any]
) -> None:
    alice, general = world["alice"], world["general"]
    dm = await alice.create_dm()
    sent = await dm.send("hi", file=discord.File(io.BytesIO(b"data"), filename="d.txt"))
    await sent.edit(content="hi again")
    async with general.typing():
        await general.send("one")
    await general.send("two")
    history = [m.content async for m in general.history(limit=10)]

    assert isinstance(dm, discord.DMChannel)
    record = fd.last_sent(dm)
    assert record.contents == ["hi", "hi again"] and record.files[0].data == b"data"
    assert history == ["two", "one"]
    with pytest.raises(discord.HTTPException) as too_long:
        await general.send("x" * 2001)
    assert too_long.value.code == 50035
    fd.close_dms(alice)
    with pytest.raises(discord.Forbidden):
        await dm.send("blocked")


async def test_bot_without_send_permission_gets_403(fd: FakeDiscord, world: dict[str, Any]) -> None:
    guild = world["guild"]
    muted = fd.text_channel(
        guild, "muted", overwrites={guild.me: discord.PermissionOverwrite(send_messages=False)}
    )

    with pytest.raises(discord.Forbidden):
        await muted.send("hello")
    assert muted.permissions_for(guild.me).send_messages is False


# --------------------------------------------------------------------------- slash commands


async def test_slash_defers_then_follows_up_with_a_file(fd: FakeDiscord, world: dict[str, Any]) -> None:
    record = await fd.slash(
        "upload", {"note": "look", "file": ("in.txt", b"abc")}, user=world["alice"], channel=world["general"]
    )

    assert isinstance(record.interaction, discord.Interaction)
    assert isinstance(record.interaction.user, discord.Member)
    assert cog(fd).interactions == [record.interaction]
    assert record.response_type == 5 and not record.ephemeral
    assert record.original is not None and record.followups == []
    assert record.original.content == "look: in.txt 3"
    assert [(f.filename, f.data) for f in record.original.files] == [("shout.txt", b"ABC")]
    assert fd.last_sent(world["general"]) is record.original
    fd.assert_clean()


async def test_subcommand_permission_check_and_error_handler(fd: FakeDiscord, world: dict[str, Any]) -> None:
    denied = await fd.slash(
        "persona set", {"prompt": "pirate"}, user=world["alice"], channel=world["general"]
    )
    allowed = await fd.slash("persona set", {"prompt": "pirate"}, user=world["mod"], channel=world["general"])

    assert denied.last.content == "You need Manage Channels." and denied.ephemeral
    assert allowed.last.content == "persona: pirate" and allowed.ephemeral
    assert allowed.interaction is not None and allowed.interaction.permissions.manage_channels


async def test_discord_refuses_impossible_invocations(fd: FakeDiscord, world: dict[str, Any]) -> None:
    where = {"user": world["alice"], "channel": world["general"]}
    with pytest.raises(DiscordWouldRefuse):
        await fd.slash("persona set", {}, **where)
    with pytest.raises(DiscordWouldRefuse):
        await fd.slash("count", {"size": 2}, **where)
    with pytest.raises(DiscordWouldRefuse):
        await fd.slash("count", {"size": 1, "n": 5}, **where)
    with pytest.raises(ValueError):
        await fd.slash("persona", {}, **where)

    record = await fd.slash("count", {"size": "Big", "n": 2}, **where)
    assert record.last.content == "18"


async def test_modal_roundtrip(fd: FakeDiscord, world: dict[str, Any]) -> None:
    opened = await fd.slash("paste", user=world["alice"], channel=world["general"])
    assert opened.response_type == 9 and opened.modal is not None
    assert set(opened.modal.fields) == {"Code", "Note"}

    with pytest.raises(DiscordWouldRefuse):
        await fd.submit_modal({"Note": "no code"})
    submitted = await fd.submit_modal({"Code": "print(1)"})

    assert submitted.last.content == "got 8 chars: print(1)" and submitted.ephemeral


async def test_message_context_menu(fd: FakeDiscord, world: dict[str, Any]) -> None:
    message = await fd.send_message(world["general"], world["alice"], "def f(): pass")

    record = await fd.context_menu("Explain code", message, user=world["mod"])

    assert record.last.content == "explaining 13 chars by alice" and record.ephemeral


async def test_autocomplete_returns_the_bots_choices(fd: FakeDiscord, world: dict[str, Any]) -> None:
    choices = await fd.autocomplete("pick", "fruit", "ap", user=world["alice"], channel=world["general"])

    assert [(c.name, c.value) for c in choices] == [("Apple", "apple"), ("Apricot", "apricot")]


async def test_answering_after_the_deadline_is_an_unknown_interaction() -> None:
    fd = await FakeDiscord(DemoBot(), interaction_deadline=0.05).start()
    try:
        guild = fd.guild()
        record = await fd.slash("slow", user=fd.member(guild, "a"), channel=fd.text_channel(guild))
        assert record.response_type is None
        assert any(isinstance(getattr(e, "original", e), discord.NotFound) for e in fd.errors)
    finally:
        await fd.close()


# --------------------------------------------------------------------------- components


async def test_settle_returns_while_a_command_waits_on_a_view(fd: FakeDiscord, world: dict[str, Any]) -> None:
    record = await fd.slash("confirm", user=world["alice"], channel=world["general"])
    assert record.original is not None and record.original.content == "sure?"
    assert record.followups == []

    click = await fd.click(record.original, label="Yes", user=world["alice"])

    assert click.response_type == 7
    assert record.original.content == "confirmed" and record.original.components == []
    assert record.followups[0].content == "answer: True"


async def test_persistent_button_works_after_restart(fd: FakeDiscord, world: dict[str, Any]) -> None:
    posted = await fd.slash("panel", user=world["mod"], channel=world["general"])
    panel = posted.last
    assert [b["custom_id"] for b in panel.buttons] == ["panel:ping", "panel:size"]

    await fd.restart(DemoBot())
    click = await fd.click(panel, "panel:ping", user=world["alice"])

    assert click.last.content == "pong for Alice" and click.ephemeral
    assert isinstance(click.interaction, discord.Interaction)
    assert click.interaction.message is not None and click.interaction.message.id == panel.id
    fd.assert_clean()


async def test_select_on_the_persistent_panel(fd: FakeDiscord, world: dict[str, Any]) -> None:
    panel = (await fd.slash("panel", user=world["mod"], channel=world["general"])).last

    with pytest.raises(DiscordWouldRefuse):
        await fd.select(panel, "panel:size", ["s", "m", "l"], user=world["alice"])
    chosen = await fd.select(panel, "panel:size", ["s", "l"], user=world["alice"])

    assert chosen.last.content == "sizes ['s', 'l']"


async def test_settle_returns_while_the_bot_waits_for_a_message(
    fd: FakeDiscord, world: dict[str, Any]
) -> None:
    asked = await fd.slash("name", user=world["alice"], channel=world["general"])
    assert [m.content for m in asked.messages] == ["What is your name?"]

    await fd.send_message(world["general"], world["alice"], "Alice")

    assert asked.last.content == "Hello Alice"


async def test_followups_edits_threads_reactions_and_deletes(fd: FakeDiscord, world: dict[str, Any]) -> None:
    general, alice = world["general"], world["alice"]

    record = await fd.slash("tour", {"who": alice, "where": general}, user=alice, channel=general)

    assert record.original is not None
    assert record.original.contents == ["Alice in #general", "Alice in #general (edited)"]
    assert [(m.contents, m.ephemeral) for m in record.followups] == [(["secret", "secret 2"], True)]
    thread = next(t for t in world["guild"].threads if t.name == "tour")
    note = fd.sent(thread, include_deleted=True)[-1]
    assert note.deleted and fd.reactions(note) == ["✅"]
    assert fd.sent(thread) == []
    fd.assert_clean()


async def test_settle_times_out_on_a_runaway_handler(fd: FakeDiscord, world: dict[str, Any]) -> None:
    async def forever(message: discord.Message) -> None:
        await asyncio.sleep(60)

    fd.bot.add_listener(forever, "on_message")
    await fd.send_message(world["general"], world["alice"], "x", settle=False)
    with pytest.raises(SettleTimeout, match="forever"):
        await fd.settle(timeout=0.1)
