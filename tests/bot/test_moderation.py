"""Moderation with the fake provider's endpoint (it flags FLAGME): on and off, input and output, alerts."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from bot.chat import ChatService, TurnIn
from bot.config import Settings
from bot.errors import UserError
from bot.llm import LLM
from bot.moderation import EnvModerationPolicy, ModerationAlert, Moderator, Subject
from bot.store import Store
from tests.fakes.openai_server import FakeOpenAI

GUILD, CHANNEL = 10, 20


@dataclass
class TeamPolicy:
    """A server-settings stand-in: moderation on in GUILD, alerts to channel 99."""

    async def enabled(self, guild_id: int | None) -> bool:
        return guild_id == GUILD

    async def alert_channel(self, guild_id: int | None) -> int | None:
        return 99 if guild_id == GUILD else None


def turn(text: str, guild: int | None = GUILD) -> TurnIn:
    return TurnIn(
        channel_id=CHANNEL, guild_id=guild, author_id=7, author_name="Aiko", content=text, message_id=55
    )


def chat_with(store: Store, llm: LLM, settings: Settings, moderator: Moderator) -> ChatService:
    return ChatService(store, llm, settings, moderation=moderator)


def test_env_policy_reads_the_moderation_setting(settings: Settings) -> None:
    assert EnvModerationPolicy.from_settings(settings).on is False
    assert EnvModerationPolicy.from_settings(settings.model_copy(update={"moderation": True})).on is True


async def test_off_nothing_is_sent_to_moderation(
    store: Store, llm: LLM, settings: Settings, fake_ai: FakeOpenAI
) -> None:
    chat = chat_with(store, llm, settings, Moderator(llm, EnvModerationPolicy(False)))
    reply = await chat.reply(turn("FLAGME please"))
    assert reply.text == "echo: [Aiko] FLAGME please"
    assert fake_ai.requests_to("/moderations") == []


async def test_flagged_input_is_refused_before_the_model_and_not_stored(
    store: Store, llm: LLM, settings: Settings, fake_ai: FakeOpenAI
) -> None:
    alerts: list[ModerationAlert] = []

    async def sink(alert: ModerationAlert) -> None:
        alerts.append(alert)

    chat = chat_with(store, llm, settings, Moderator(llm, TeamPolicy(), alerts=sink))
    with pytest.raises(UserError) as caught:
        await chat.reply(turn("something FLAGME something"))
    assert caught.value.kind == "moderated"
    assert "FLAGME" not in caught.value.message  # neutral: never repeats or explains the text
    assert fake_ai.requests_to("/chat/completions") == []
    assert await store.all_turns(CHANNEL) == []
    (alert,) = alerts
    assert (alert.alert_channel_id, alert.direction, alert.subject.user_id) == (99, "input", 7)
    assert alert.subject.message_id == 55 and "FLAGME" in alert.excerpt and alert.categories


async def test_flagged_output_is_refused_and_never_streamed(
    store: Store, llm: LLM, settings: Settings, fake_ai: FakeOpenAI
) -> None:
    fake_ai.reply_with("here is FLAGME content")
    shown: list[str] = []
    chat = chat_with(store, llm, settings, Moderator(llm, TeamPolicy()))
    with pytest.raises(UserError) as caught:
        await chat.reply(turn("hello"), on_text=lambda render: shown.append(render()))
    assert caught.value.kind == "moderated_output"
    assert shown == []  # nothing of the answer reached the screen
    assert [t.role for t in await store.all_turns(CHANNEL)] == ["user"]
    checked = [r.json["input"] for r in fake_ai.requests_to("/moderations")]
    assert checked == ["hello", "here is FLAGME content"]


async def test_clean_text_passes_both_checks(
    store: Store, llm: LLM, settings: Settings, fake_ai: FakeOpenAI
) -> None:
    shown: list[str] = []
    chat = chat_with(store, llm, settings, Moderator(llm, TeamPolicy()))
    reply = await chat.reply(turn("hello there"), on_text=lambda render: shown.append(render()))
    assert reply.text == "echo: [Aiko] hello there"
    assert len(fake_ai.requests_to("/moderations")) == 2
    assert shown == []  # with moderation on the answer shows only once checked


async def test_policy_is_per_server(store: Store, llm: LLM, settings: Settings, fake_ai: FakeOpenAI) -> None:
    chat = chat_with(store, llm, settings, Moderator(llm, TeamPolicy()))
    reply = await chat.reply(turn("FLAGME in a DM", guild=None))
    assert reply.text.startswith("echo:")
    assert fake_ai.requests_to("/moderations") == []


async def test_a_failing_moderation_endpoint_refuses(llm: LLM, fake_ai: FakeOpenAI) -> None:
    fake_ai.fail_next("server_error", times=5, path="/moderations")
    moderator = Moderator(llm, EnvModerationPolicy(True))
    with pytest.raises(UserError) as caught:
        await moderator.screen_input("hello", Subject(GUILD, CHANNEL, 7, "Aiko"))
    assert caught.value.kind == "provider_error"


async def test_a_broken_alert_sink_does_not_hide_the_refusal(llm: LLM, fake_ai: FakeOpenAI) -> None:
    async def broken(alert: ModerationAlert) -> None:
        raise RuntimeError("discord is down")

    moderator = Moderator(llm, TeamPolicy(), alerts=broken)
    with pytest.raises(UserError) as caught:
        await moderator.screen_input("FLAGME", Subject(GUILD, CHANNEL, 7, "Aiko"))
    assert caught.value.kind == "moderated"
