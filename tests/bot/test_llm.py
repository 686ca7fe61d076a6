"""The provider client against the fake OpenAI server: streaming, usage, retries, plain errors."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from bot.errors import UserError
from bot.llm import LLM, Who, decode_embeddings
from bot.store import Store
from tests.conftest import TEST_KEY, make_settings
from tests.fakes.openai_server import FakeOpenAI, closed_port_url

WHO = Who(guild_id=1, user_id=7, feature="chat")
HELLO = [{"role": "user", "content": "hello there"}]


async def collect(llm: LLM, messages: list[dict] = HELLO) -> str:
    return "".join([d async for d in llm.stream_chat(messages, who=WHO)])


async def test_stream_yields_deltas_and_records_usage(llm: LLM, store: Store) -> None:
    deltas = [d async for d in llm.stream_chat(HELLO, who=WHO)]
    assert len(deltas) > 1 and "".join(deltas) == "echo: hello there"
    tokens_in, tokens_out, _ = await store.usage_totals(since=0, user_id=7)
    assert tokens_in > 0 and tokens_out > 0


async def test_complete_and_embed(llm: LLM, store: Store) -> None:
    result = await llm.complete(HELLO, who=WHO)
    assert result.text == "echo: hello there" and result.tokens_out > 0
    vectors = await llm.embed(["cats purr", "cats meow", "tax law"], who=WHO)
    assert len(vectors) == 3 and len(vectors[0]) == 512

    def dot(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert dot(vectors[0], vectors[1]) > dot(vectors[0], vectors[2])


async def test_uses_the_configured_base_url_and_key(llm: LLM, fake_ai: FakeOpenAI) -> None:
    await llm.complete(HELLO, who=WHO)
    request = fake_ai.last_request("/chat/completions")
    assert request.headers["authorization"] == f"Bearer {TEST_KEY}"


@pytest.mark.parametrize(
    ("failure", "kind", "words"),
    [
        ("quota", "quota", "out of quota"),
        ("invalid_key", "invalid_key", "API key"),
        ("model_not_found", "model_not_found", "doesn't have the model"),
        ("context_length", "context_too_long", "too long"),
        ("malformed", "bad_response", "couldn't read"),
        ("timeout", "timeout", "too long to answer"),
    ],
)
async def test_provider_failures_become_plain_messages(
    llm: LLM, fake_ai: FakeOpenAI, failure: str, kind: str, words: str
) -> None:
    fake_ai.fail_next(failure, times=5)
    with pytest.raises(UserError) as caught:
        await llm.complete(HELLO, who=WHO)
    assert caught.value.kind == kind
    assert words in caught.value.message
    assert TEST_KEY not in caught.value.message


@pytest.mark.parametrize("failure", ["rate_limit", "server_error", "unavailable"])
async def test_transient_failures_are_retried(llm: LLM, fake_ai: FakeOpenAI, failure: str) -> None:
    fake_ai.fail_next(failure, times=2)
    assert await collect(llm) == "echo: hello there"
    assert len(fake_ai.requests_to("/chat/completions")) == 3


async def test_rate_limit_that_persists_says_when_to_retry(llm: LLM, fake_ai: FakeOpenAI) -> None:
    fake_ai.fail_next("rate_limit", times=10)
    with pytest.raises(UserError) as caught:
        await collect(llm)
    assert caught.value.kind == "rate_limited" and "try again" in caught.value.message


async def test_quota_is_not_retried(llm: LLM, fake_ai: FakeOpenAI) -> None:
    fake_ai.fail_next("quota", times=5)
    with pytest.raises(UserError):
        await collect(llm)
    assert len(fake_ai.requests_to("/chat/completions")) == 1


async def test_broken_stream_says_the_answer_was_cut_off(llm: LLM, fake_ai: FakeOpenAI) -> None:
    fake_ai.reply_with("one two three four five six seven eight nine ten")
    fake_ai.fail_next("broken_stream")
    with pytest.raises(UserError) as caught:
        await collect(llm)
    assert caught.value.kind == "stream_broken"


async def test_unreachable_provider(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, closed_port_url(), max_retries=1)
    client = LLM(settings, retry_base=0.01)
    started = time.monotonic()
    with pytest.raises(UserError) as caught:
        await collect(client)
    await client.aclose()
    assert caught.value.kind == "unreachable" and "can't be reached" in caught.value.message
    assert time.monotonic() - started < 5


async def test_models_listed(llm: LLM) -> None:
    assert "gpt-4o-mini" in await llm.model_ids()


def test_embeddings_decode_floats_from_servers_that_ignore_base64() -> None:
    raw = b'{"data": [{"index": 1, "embedding": [0.5, 1]}, {"index": 0, "embedding": [1, 0]}], "usage": {}}'
    assert decode_embeddings(raw, 2) == ([[1.0, 0.0], [0.5, 1.0]], 0)
    with pytest.raises(ValueError):
        decode_embeddings(raw, 3)


async def test_retry_waits_as_long_as_the_millisecond_header_says(llm: LLM, fake_ai: FakeOpenAI) -> None:
    fake_ai.fail_next("rate_limit", times=2)  # the fake sends Retry-After: 1 and retry-after-ms: 50
    started = time.monotonic()
    assert await collect(llm) == "echo: hello there"
    assert time.monotonic() - started < 1.5
