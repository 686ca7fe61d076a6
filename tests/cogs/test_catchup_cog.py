"""/summarize through Discord: reads the channel's history, links the key messages, respects permissions."""

from __future__ import annotations

import discord
import pytest

from tests.fakes.discord import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

CONVERSATION = [
    ("aiko", "Should we ship the release this week?"),
    ("ken", "Decided: we ship on Friday."),
    ("aiko", "Ken, can you check the migration first? I'm waiting on you."),
    ("ken", "Who owns the release notes? Nobody answered yet."),
]


@pytest.fixture
def world(fd: FakeDiscord) -> dict:
    guild = fd.guild("Team")
    return {
        "guild": guild,
        "general": fd.text_channel(guild, "general"),
        "aiko": fd.member(guild, "aiko", display_name="Aiko"),
        "ken": fd.member(guild, "ken", display_name="Ken"),
    }


async def post_conversation(fd: FakeDiscord, world: dict, channel: object = None) -> list[int]:
    channel = channel or world["general"]
    for who, text in CONVERSATION:
        await fd.send_message(channel, world[who], text)
    return [int(m["id"]) for m in fd.history(channel)]


def jump(world: dict, message_id: int, channel: object = None) -> str:
    channel = channel or world["general"]
    return f"https://discord.com/channels/{world['guild'].id}/{channel.id}/{message_id}"


async def test_summary_of_other_peoples_messages_with_jump_links(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    ids = await post_conversation(fd, world)
    fake_ai.reply_with(
        "**Decisions** — ship on Friday (Ken) [2]\n**Waiting on** — Aiko waits on Ken [3]\n"
        "**Open questions** — release notes owner [4] [12]"
    )
    rec = await fd.slash("summarize", {}, user=world["aiko"], channel=world["general"])
    assert rec.ephemeral and rec.deferred
    content = rec.original.content
    assert content.startswith("**Catch-up** on the last 4 messages here:")
    assert f"ship on Friday (Ken) [[2]](<{jump(world, ids[1])}>)" in content
    assert f"[[3]](<{jump(world, ids[2])}>)" in content and f"[[4]](<{jump(world, ids[3])}>)" in content
    assert "[12]" not in content  # a number the model made up is dropped
    transcript = fake_ai.last_request("/chat/completions").json["messages"][1]["content"]
    assert "Ken: Decided: we ship on Friday." in transcript and transcript.startswith("[1] ")
    assert fd.sent(world["general"]) == [rec.original]  # nothing posted for everyone to see


async def test_reads_only_the_last_n_messages(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    await post_conversation(fd, world)
    fake_ai.reply_with("**Topics** — release notes [1]")
    rec = await fd.slash("summarize", {"messages": 2}, user=world["aiko"], channel=world["general"])
    transcript = fake_ai.last_request("/chat/completions").json["messages"][1]["content"]
    assert "release notes" in transcript and "migration" in transcript
    assert "Should we ship" not in transcript and "Decided" not in transcript
    assert "last 2 messages" in rec.original.content


async def test_forwarded_messages_are_part_of_the_catch_up(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    other = fd.text_channel(world["guild"], "ops")
    original = await fd.send_message(other, world["ken"], "The database moves to Tokyo on Monday.")
    await fd.forward_message(world["general"], world["ken"], original)
    fake_ai.reply_with("**Topics** — the move [1]")
    await fd.slash("summarize", {}, user=world["aiko"], channel=world["general"])
    transcript = fake_ai.last_request("/chat/completions").json["messages"][1]["content"]
    assert "Ken: The database moves to Tokyo on Monday." in transcript


async def test_refused_when_the_caller_cannot_read_the_history(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    no_history = discord.PermissionOverwrite(read_message_history=False)
    secret = fd.text_channel(world["guild"], "leads", overwrites={world["aiko"]: no_history})
    await post_conversation(fd, world, secret)
    rec = await fd.slash("summarize", {}, user=world["aiko"], channel=secret)
    assert rec.ephemeral
    assert rec.last.content.startswith("You can't read this channel's message history, so I can't summarize")
    assert fake_ai.requests_to("/chat/completions") == []
    assert not any(c.method == "GET" and c.path.endswith(f"/channels/{secret.id}/messages") for c in fd.calls)


async def test_refused_when_the_bot_cannot_read_the_history(fd: FakeDiscord, world: dict) -> None:
    no_history = discord.PermissionOverwrite(read_message_history=False)
    closed = fd.text_channel(world["guild"], "closed", overwrites={world["guild"].me: no_history})
    rec = await fd.slash("summarize", {}, user=world["aiko"], channel=closed)
    assert "I need the Read Message History permission" in rec.last.content


async def test_japanese_reader(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    await post_conversation(fd, world)
    fake_ai.reply_with("**決定事項** — 金曜にリリース [2]")
    rec = await fd.slash("summarize", {}, user=world["aiko"], channel=world["general"], locale="ja")
    header, summary = rec.original.content.split("\n", 1)
    assert header == "**まとめ**（直近のメッセージ 4 件）："
    assert summary.startswith("**決定事項** — 金曜にリリース [[2]](<https://discord.com/channels/")
    assert "in Japanese" in fake_ai.last_request("/chat/completions").json["messages"][0]["content"]


async def test_an_empty_channel_says_so(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    rec = await fd.slash("summarize", {}, user=world["aiko"], channel=world["general"])
    assert "no messages with text here" in rec.last.content and "thinking" not in rec.last.content
    assert fake_ai.requests_to("/chat/completions") == []


async def test_public_slash_command_answers_are_part_of_the_catch_up(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    await fd.slash("chat", {"message": "ship friday?"}, user=world["aiko"], channel=world["general"])
    await fd.send_message(world["general"], world["ken"], "hi bot", mentions_bot=True)
    fake_ai.reply_with("**Topics** — shipping [1]")
    await fd.slash("summarize", {}, user=world["aiko"], channel=world["general"])
    transcript = fake_ai.last_request("/chat/completions").json["messages"][1]["content"]
    assert "echo: [Aiko] ship friday?" in transcript and "echo: [Ken] hi bot" in transcript
