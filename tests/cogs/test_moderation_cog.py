"""Moderation through Discord: the switch on and off, neutral refusals, the moderators' alert channel."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.moderation import EnvModerationPolicy
from bot.services import Services
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

REFUSAL = "⚠️ I can't help with that message. Please rephrase it and try again."


@dataclass
class ServerPolicy:
    """What the server settings will provide: the switch and an alert channel per server."""

    guild_id: int
    alerts: int | None

    async def enabled(self, guild_id: int | None) -> bool:
        return guild_id == self.guild_id

    async def alert_channel(self, guild_id: int | None) -> int | None:
        return self.alerts if guild_id == self.guild_id else None


@pytest.fixture
def world(fd: FakeDiscord) -> dict:
    guild = fd.guild("Team")
    return {
        "guild": guild,
        "general": fd.text_channel(guild, "general"),
        "mods": fd.text_channel(guild, "mod-log"),
        "aiko": fd.member(guild, "aiko", display_name="Aiko"),
    }


async def test_off_by_default_nothing_is_checked(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    await fd.send_message(world["general"], world["aiko"], "FLAGME hello", mentions_bot=True)
    assert fd.last_sent(world["general"]).content == "echo: [Aiko] FLAGME hello"
    assert fake_ai.requests_to("/moderations") == []


async def test_on_flagged_mention_is_refused_neutrally(
    fd: FakeDiscord, world: dict, services: Services, fake_ai: FakeOpenAI
) -> None:
    services.moderation.policy = EnvModerationPolicy(True)
    await fd.send_message(world["general"], world["aiko"], "tell me FLAGME", mentions_bot=True)
    assert fd.last_sent(world["general"]).content == REFUSAL
    assert fake_ai.requests_to("/chat/completions") == []
    assert await services.store.all_turns(world["general"].id) == []


async def test_on_clean_text_is_answered_after_both_checks(
    fd: FakeDiscord, world: dict, services: Services, fake_ai: FakeOpenAI
) -> None:
    services.moderation.policy = EnvModerationPolicy(True)
    await fd.send_message(world["general"], world["aiko"], "hello there", mentions_bot=True)
    reply = fd.last_sent(world["general"])
    assert reply.content == "echo: [Aiko] hello there"
    assert [r.json["input"] for r in fake_ai.requests_to("/moderations")] == [
        "hello there",
        "echo: [Aiko] hello there",
    ]


async def test_flagged_answer_never_shows(
    fd: FakeDiscord, world: dict, services: Services, fake_ai: FakeOpenAI
) -> None:
    services.moderation.policy = EnvModerationPolicy(True)
    fake_ai.reply_with("some words then FLAGME and more words")
    fake_ai.stream_delay = 0.05
    await fd.send_message(world["general"], world["aiko"], "hi", mentions_bot=True)
    reply = fd.last_sent(world["general"])
    assert reply.content.startswith("⚠️ I can't show the answer I wrote for that.")
    assert not any("FLAGME" in shown for shown in reply.contents)  # not even part-way while streaming


async def test_alert_channel_gets_a_note_that_pings_nobody(
    fd: FakeDiscord, world: dict, services: Services, fake_ai: FakeOpenAI
) -> None:
    services.moderation.policy = ServerPolicy(world["guild"].id, world["mods"].id)
    message = await fd.send_message(world["general"], world["aiko"], "FLAGME now", mentions_bot=True)
    assert message is not None
    note = fd.last_sent(world["mods"])
    assert f"<@{world['aiko'].id}> (Aiko)" in note.content and f"<#{world['general'].id}>" in note.content
    assert message.jump_url in note.content and "It was refused." in note.content
    assert "||FLAGME now||" in note.content  # the excerpt is behind a spoiler
    assert not note.pings_anyone
    assert fd.last_sent(world["general"]).content == REFUSAL


async def test_alert_channel_in_another_server_is_never_used(
    fd: FakeDiscord, world: dict, services: Services, fake_ai: FakeOpenAI
) -> None:
    other = fd.text_channel(fd.guild("Elsewhere"), "their-log")
    services.moderation.policy = ServerPolicy(world["guild"].id, other.id)
    await fd.send_message(world["general"], world["aiko"], "FLAGME", mentions_bot=True)
    assert fd.sent(other) == []
    assert fd.last_sent(world["general"]).content == REFUSAL


async def test_slash_chat_refusal_in_japanese(
    fd: FakeDiscord, world: dict, services: Services, fake_ai: FakeOpenAI
) -> None:
    services.moderation.policy = EnvModerationPolicy(True)
    rec = await fd.slash(
        "chat", {"message": "FLAGME です"}, user=world["aiko"], channel=world["general"], locale="ja"
    )
    assert rec.original.content.startswith("⚠️ そのメッセージにはお応えできません。")


async def test_a_flagged_catch_up_never_shows(
    fd: FakeDiscord, world: dict, services: Services, fake_ai: FakeOpenAI
) -> None:
    services.moderation.policy = EnvModerationPolicy(True)
    await fd.send_message(world["general"], world["aiko"], "hello team")
    fake_ai.reply_with("**Topics** — FLAGME [1]")
    rec = await fd.slash("summarize", {}, user=world["aiko"], channel=world["general"])
    assert rec.original.content.startswith("⚠️ I can't show the answer I wrote for that.")
    assert not any("FLAGME" in shown for shown in rec.original.contents)
    assert fake_ai.requests_to("/moderations")


async def test_a_catch_up_is_not_checked_where_moderation_is_off(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    await fd.send_message(world["general"], world["aiko"], "hello team")
    fake_ai.reply_with("**Topics** — FLAGME [1]")
    rec = await fd.slash("summarize", {}, user=world["aiko"], channel=world["general"])
    assert "FLAGME" in rec.original.content and fake_ai.requests_to("/moderations") == []
