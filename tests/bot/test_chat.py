"""Chat turns: memory per channel, order, restart, summaries, personas, failures, images."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from PIL import Image

from bot.chat import NO_VISION_NOTE, TRIM_NOTE, ChatService, TurnIn
from bot.config import Settings
from bot.errors import UserError
from bot.llm import LLM
from bot.store import Store
from bot.tokens import count_tokens
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI


def turn(text: str, channel: int = 100, guild: int | None = 1, author: int = 7, name: str = "Ann") -> TurnIn:
    return TurnIn(channel_id=channel, guild_id=guild, author_id=author, author_name=name, content=text)


@pytest.fixture
def chat(store: Store, llm: LLM, settings: Settings) -> ChatService:
    return ChatService(store, llm, settings)


def sent_messages(fake_ai: FakeOpenAI) -> list[dict]:
    return fake_ai.last_request("/chat/completions").json["messages"]


async def test_reply_is_streamed_and_both_turns_stored(chat: ChatService, store: Store) -> None:
    seen: list[str] = []
    reply = await chat.reply(turn("hello"), on_text=lambda render: seen.append(render()))
    assert reply.text == "echo: [Ann] hello"
    assert len(seen) > 1 and seen[-1] == "echo: [Ann] hello"
    stored = await store.all_turns(100)
    assert [(t.role, t.content) for t in stored] == [("user", "[Ann] hello"), ("assistant", reply.text)]
    assert all(t.tokens > 0 for t in stored)


async def test_model_sees_who_said_what(chat: ChatService, fake_ai: FakeOpenAI) -> None:
    await chat.reply(turn("I like tea", author=1, name="Alice"))
    await chat.reply(turn("what did Alice say?", author=2, name="Bob"))
    contents = [m["content"] for m in sent_messages(fake_ai)]
    assert "[Alice] I like tea" in contents and contents[-1] == "[Bob] what did Alice say?"


async def test_dm_turns_have_no_name_prefix(chat: ChatService, fake_ai: FakeOpenAI) -> None:
    await chat.reply(turn("just us", guild=None))
    assert sent_messages(fake_ai)[-1]["content"] == "just us"


async def test_memory_never_crosses_channels_or_servers(chat: ChatService, fake_ai: FakeOpenAI) -> None:
    await chat.reply(turn("secret-alpha", channel=1, guild=10))
    await chat.reply(turn("secret-beta", channel=2, guild=10))
    await chat.reply(turn("secret-gamma", channel=3, guild=20))
    await chat.reply(turn("what do you know?", channel=2, guild=10))
    seen = str(sent_messages(fake_ai))
    assert "secret-beta" in seen and "secret-alpha" not in seen and "secret-gamma" not in seen


async def test_turns_in_one_channel_are_answered_in_order(
    chat: ChatService, store: Store, fake_ai: FakeOpenAI
) -> None:
    fake_ai.stream_delay = 0.01
    await asyncio.gather(*(chat.reply(turn(f"msg {i}")) for i in range(8)))
    stored = await store.all_turns(100)
    assert [t.content for t in stored] == [
        line for i in range(8) for line in (f"[Ann] msg {i}", f"echo: [Ann] msg {i}")
    ]


async def test_channels_are_answered_concurrently(chat: ChatService, fake_ai: FakeOpenAI) -> None:
    fake_ai.latency = 0.3
    started = asyncio.get_running_loop().time()
    await asyncio.gather(*(chat.reply(turn("hi", channel=c)) for c in range(5)))
    assert asyncio.get_running_loop().time() - started < 1.2


async def test_restart_keeps_memory(tmp_path: Path, fake_ai: FakeOpenAI) -> None:
    settings = make_settings(tmp_path, fake_ai.base_url)
    for text in ("first visit", "second visit"):
        store = await Store(settings.database_path).open()
        llm = LLM(settings)
        await ChatService(store, llm, settings).reply(turn(text))
        await llm.aclose()
        await store.close()
    assert "[Ann] first visit" in str(sent_messages(fake_ai))


async def test_persona_is_in_the_system_prompt(chat: ChatService, store: Store, fake_ai: FakeOpenAI) -> None:
    await store.set_persona(100, 1, "Talk like a pirate.")
    await chat.reply(turn("hi"))
    system = sent_messages(fake_ai)[0]
    assert system["role"] == "system" and "Talk like a pirate." in system["content"]


async def test_old_turns_are_folded_into_a_summary(tmp_path: Path, fake_ai: FakeOpenAI) -> None:
    settings = make_settings(tmp_path, fake_ai.base_url, context_tokens=1000, reply_tokens=200)
    store = await Store(settings.database_path).open()
    llm = LLM(settings)
    chat = ChatService(store, llm, settings)

    def responder(request: dict) -> str:
        if "running summary" in request["messages"][0]["content"]:
            return "SUMMARY: Ann talked about topic-0 and more."
        return "ok"

    fake_ai.reply_with(responder)
    notes: list[list[str]] = []
    for i in range(40):
        reply = await chat.reply(turn(f"topic-{i} " + "words " * 30))
        notes.append(reply.notes)
    messages = sent_messages(fake_ai)
    assert "SUMMARY: Ann talked about topic-0" in messages[0]["content"]
    assert "topic-0 " not in str(messages[1:])
    assert messages[-1]["content"].startswith("[Ann] topic-39")
    assert sum(TRIM_NOTE in n for n in notes) == 1  # said once, when it first happened
    assert len(await store.all_turns(100)) == 80  # nothing deleted
    await llm.aclose()
    await store.close()


async def test_a_small_model_keeps_answering_when_its_summary_runs_long(
    tmp_path: Path, fake_ai: FakeOpenAI
) -> None:
    # A 2k-context local model: 548 tokens of memory. A 600-token summary would leave no room for any
    # message, and every turn after the first fold would be refused as too long.
    settings = make_settings(tmp_path, fake_ai.base_url, context_tokens=2048, reply_tokens=1500)
    store = await Store(settings.database_path).open()
    llm = LLM(settings)
    chat = ChatService(store, llm, settings)

    def responder(request: dict) -> str:  # a server that ignores max_tokens, and a rambling summary
        if "running summary" in request["messages"][0]["content"]:
            return "SUMMARY " + "Ann discussed the release plan at length. " * 200
        return "ok"

    fake_ai.reply_with(responder)
    for i in range(40):
        assert (await chat.reply(turn(f"topic-{i} " + "words " * 30))).text == "ok"
    asked = [r.json for r in fake_ai.requests_to("/chat/completions") if "running summary" in str(r.json)]
    assert asked and all(r["max_tokens"] == 137 for r in asked)  # a quarter of the 548
    assert "at most 57 words" in asked[0]["messages"][0]["content"]
    state = await store.channel_state(100)
    assert state.summary.startswith("SUMMARY Ann discussed") and count_tokens(state.summary) <= 137
    await llm.aclose()
    await store.close()


async def test_provider_failure_keeps_the_users_turn(
    chat: ChatService, store: Store, fake_ai: FakeOpenAI
) -> None:
    fake_ai.fail_next("invalid_key")
    with pytest.raises(UserError, match="API key"):
        await chat.reply(turn("are you there?"))
    assert [t.content for t in await store.all_turns(100)] == ["[Ann] are you there?"]


async def test_reasoning_is_not_shown_or_stored(chat: ChatService, store: Store, fake_ai: FakeOpenAI) -> None:
    fake_ai.reply_with("<think>let me think hard</think>The answer is 4.")
    seen: list[str] = []
    reply = await chat.reply(turn("2+2?"), on_text=lambda render: seen.append(render()))
    assert reply.text == "The answer is 4."
    assert not any("think" in s for s in seen)
    assert (await store.all_turns(100))[-1].content == "The answer is 4."


async def test_reset_forgets_only_this_channel(chat: ChatService, store: Store) -> None:
    await chat.reply(turn("a", channel=1))
    await chat.reply(turn("b", channel=2))
    assert await chat.reset(1) == 2
    assert await store.all_turns(1) == [] and len(await store.all_turns(2)) == 2


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (3000, 2000), "red").save(out, format="PNG")
    return out.getvalue()


async def test_images_are_sent_to_a_vision_model(chat: ChatService, fake_ai: FakeOpenAI) -> None:
    t = turn("what colour?")
    t.images = [png_bytes(), b"not an image"]
    await chat.reply(t)
    last = sent_messages(fake_ai)[-1]["content"]
    assert last[0] == {"type": "text", "text": "[Ann] what colour?"}
    assert len(last) == 2 and last[1]["image_url"]["url"].startswith("data:image/jpeg;base64,")


async def test_images_and_a_text_only_model(tmp_path: Path, fake_ai: FakeOpenAI) -> None:
    settings = make_settings(tmp_path, fake_ai.base_url, vision=False)
    store = await Store(settings.database_path).open()
    llm = LLM(settings)
    t = turn("what colour?")
    t.images = [png_bytes()]
    reply = await ChatService(store, llm, settings).reply(t)
    assert NO_VISION_NOTE in reply.notes
    assert isinstance(sent_messages(fake_ai)[-1]["content"], str)
    await llm.aclose()
    await store.close()
