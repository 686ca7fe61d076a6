"""The Discord harness drives a real commands.Bot: listeners, slash commands, modals, views.

The bot under test (DemoBot and its DemoCog) is in discord_demo_bot.py.
"""

from __future__ import annotations

import asyncio
import io
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import discord
import pytest

from tests.fakes.discord import DiscordWouldRefuse, FakeDiscord, SettleTimeout, Upload
from tests.fakes.discord_demo_bot import DemoBot, DemoCog

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
