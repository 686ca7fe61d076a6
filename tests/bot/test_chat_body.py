"""Chat request bodies encoded once per message: the same bytes the SDK would send, on the wire too."""

from __future__ import annotations

import json

from openai._utils._json import openapi_dumps

from bot.chat_body import chat_body
from bot.llm import LLM, Who
from tests.fakes.openai_server import FakeOpenAI

PARAMS = {"model": "gpt-test", "stream": True, "stream_options": {"include_usage": True}, "max_tokens": 900}
MESSAGES = [
    {"role": "system", "content": "You are teambot."},
    {"role": "user", "content": "[アリス] リリースは順調ですか？ \"quoted\" \\ back\nslash"},
    {"role": "assistant", "content": "はい、順調です 🚀"},
    {"role": "user", "content": [{"type": "text", "text": "what is this?"},
                                 {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}}]},
    {"role": "user", "content": "", "name": "bob"},
]


def test_the_body_is_what_the_sdk_itself_would_send() -> None:
    assert chat_body(PARAMS, MESSAGES) == openapi_dumps({**PARAMS, "messages": MESSAGES})


def test_a_conversation_one_message_longer_extends_the_same_bytes() -> None:
    first = chat_body({"model": "m"}, MESSAGES[:2])
    again = chat_body({"model": "m"}, [*MESSAGES[:2], {"role": "user", "content": "next"}])
    assert json.loads(again)["messages"] == [*MESSAGES[:2], {"role": "user", "content": "next"}]
    assert again.startswith(first[:-2])


def test_messages_in_params_are_replaced_by_the_messages_given() -> None:
    stale = [{"role": "user", "content": "old"}]
    body = json.loads(chat_body({"model": "m", "messages": stale}, MESSAGES[:1]))
    assert body == {"model": "m", "messages": MESSAGES[:1]}


def test_an_empty_conversation_is_an_empty_list() -> None:
    assert json.loads(chat_body({"model": "m"}, [])) == {"model": "m", "messages": []}


async def test_streamed_and_plain_completions_send_it_as_json(llm: LLM, fake_ai: FakeOpenAI) -> None:
    who = Who(guild_id=1, user_id=7, feature="chat")
    text = "".join([d async for d in llm.stream_chat(MESSAGES[:3], who=who, max_tokens=50)])
    assert text == f"echo: {MESSAGES[1]['content']}"  # the fake echoes the last user message
    streamed = fake_ai.last_request("/chat/completions")
    assert streamed.headers["content-type"] == "application/json"
    assert streamed.json["messages"] == MESSAGES[:3] and streamed.json["max_tokens"] == 50
    result = await llm.complete(MESSAGES[:2], who=who, temperature=0.2)
    plain = fake_ai.last_request("/chat/completions")
    assert result.text == f"echo: {MESSAGES[1]['content']}"
    assert plain.json == {"model": plain.json["model"], "messages": MESSAGES[:2], "temperature": 0.2}
