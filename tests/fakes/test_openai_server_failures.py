"""The fake OpenAI server, driven through the real `openai` client: scripted failures, latency,
concurrency and shutdown. The `server` and `client` fixtures are in conftest.py."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import openai
import pytest
from openai import AsyncOpenAI

from tests.fakes.conftest import KEY, USER
from tests.fakes.openai_server import FakeOpenAI

# --- scripted failures ---------------------------------------------------------------------------------

STATUS_FAILURES = [
    ("rate_limit", openai.RateLimitError, 429, "rate_limit_exceeded"),
    ("quota", openai.RateLimitError, 429, "insufficient_quota"),
    ("server_error", openai.InternalServerError, 500, None),
    ("unavailable", openai.InternalServerError, 503, None),
    ("context_length", openai.BadRequestError, 400, "context_length_exceeded"),
    ("invalid_key", openai.AuthenticationError, 401, "invalid_api_key"),
    ("model_not_found", openai.NotFoundError, 404, "model_not_found"),
    ("content_policy", openai.BadRequestError, 400, "content_policy_violation"),
    ("moderation_blocked", openai.BadRequestError, 400, "moderation_blocked"),
]


@pytest.mark.parametrize(("kind", "error", "status", "code"), STATUS_FAILURES)
async def test_status_failures_raise_the_matching_error(
    server: FakeOpenAI,
    client: AsyncOpenAI,
    kind: str,
    error: type[openai.APIStatusError],
    status: int,
    code: str,
) -> None:
    server.fail_next(kind)
    with pytest.raises(error) as caught:
        await client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert caught.value.status_code == status
    assert caught.value.code == code
    assert server.pending_failures == 0
    reply = await client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert reply.choices[0].message.content == "echo: hello brave new world"


async def test_rate_limit_carries_retry_after(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    server.fail_next("rate_limit")
    with pytest.raises(openai.RateLimitError) as caught:
        await client.models.list()
    headers = caught.value.response.headers
    assert headers["retry-after"] == "1"
    assert headers["retry-after-ms"] == "50"
    assert caught.value.type == "requests"


async def test_quota_error_type(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    server.fail_next("quota")
    with pytest.raises(openai.RateLimitError) as caught:
        await client.models.list()
    assert caught.value.type == "insufficient_quota"


async def test_client_retries_through_queued_failures(server: FakeOpenAI) -> None:
    server.fail_next("rate_limit", times=2)
    api = AsyncOpenAI(api_key=KEY, base_url=server.base_url, max_retries=2, timeout=3)
    reply = await api.chat.completions.create(model="gpt-4o-mini", messages=USER)
    await api.close()
    assert reply.choices[0].message.content == "echo: hello brave new world"
    attempts = server.requests_to("/v1/chat/completions")
    assert [r.headers["x-stainless-retry-count"] for r in attempts] == ["0", "1", "2"]


async def test_failures_can_target_one_path(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    server.fail_next("server_error", times=2, path="/embeddings")
    assert (await client.chat.completions.create(model="gpt-4o-mini", messages=USER)).choices
    for _ in range(2):
        with pytest.raises(openai.InternalServerError):
            await client.embeddings.create(model="text-embedding-3-small", input="x")
    assert (await client.embeddings.create(model="text-embedding-3-small", input="x")).data


async def test_timeout_raises_api_timeout_error(server: FakeOpenAI) -> None:
    server.fail_next("timeout")
    api = AsyncOpenAI(api_key=KEY, base_url=server.base_url, max_retries=0, timeout=0.2)
    with pytest.raises(openai.APITimeoutError):
        await api.chat.completions.create(model="gpt-4o-mini", messages=USER)
    await api.close()


async def test_broken_stream_raises_connection_error_after_some_chunks(
    server: FakeOpenAI, client: AsyncOpenAI
) -> None:
    server.fail_next("broken_stream")
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    received: list[str] = []
    with pytest.raises(openai.APIConnectionError):
        async for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert len(received) >= 2


async def test_broken_non_streamed_answer_raises_connection_error(
    server: FakeOpenAI, client: AsyncOpenAI
) -> None:
    server.fail_next("broken_stream")
    with pytest.raises(openai.APIConnectionError):
        await client.embeddings.create(model="text-embedding-3-small", input="x")


async def test_disconnect_raises_connection_error(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    server.fail_next("disconnect")
    with pytest.raises(openai.APIConnectionError):
        await client.models.list()


async def test_malformed_json_raises_a_json_error(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    # openai 3.57 lets the JSONDecodeError through unwrapped.
    server.fail_next("malformed", times=2)
    with pytest.raises(json.JSONDecodeError):
        await client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    stream = await client.chat.completions.create(model="gpt-4o-mini", messages=USER, stream=True)
    with pytest.raises(json.JSONDecodeError):
        async for _ in stream:
            pass


async def test_a_crashing_reply_hook_is_a_500(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    def crash(_request: dict[str, Any]) -> str:
        raise RuntimeError("bug in the test's hook")

    server.reply_with(crash)
    with pytest.raises(openai.InternalServerError):
        await client.chat.completions.create(model="gpt-4o-mini", messages=USER)


async def test_reset_forgets_requests_failures_and_the_hook(server: FakeOpenAI, client: AsyncOpenAI) -> None:
    server.reply_with("fixed")
    await client.models.list()
    server.fail_next("server_error", times=3)
    server.reset()
    assert server.requests == [] and server.pending_failures == 0
    reply = await client.chat.completions.create(model="gpt-4o-mini", messages=USER)
    assert reply.choices[0].message.content == "echo: hello brave new world"


def test_unknown_failure_kind_is_refused(server: FakeOpenAI) -> None:
    with pytest.raises(ValueError, match="unknown failure kind"):
        server.fail_next("gremlins")


# --- latency, concurrency, shutdown --------------------------------------------------------------------


async def test_latency_applies_to_concurrent_requests_in_parallel(
    server: FakeOpenAI, client: AsyncOpenAI
) -> None:
    server.latency = 0.2
    started = time.monotonic()
    replies = await asyncio.gather(
        *(client.chat.completions.create(model="gpt-4o-mini", messages=USER) for _ in range(8))
    )
    elapsed = time.monotonic() - started
    assert len(replies) == 8
    assert 0.2 <= elapsed < 1.0
    assert len(server.requests) == 8


async def test_stop_is_quick_while_a_request_hangs() -> None:
    fake = FakeOpenAI(timeout_sleep=30).start()
    fake.fail_next("timeout")
    api = AsyncOpenAI(api_key=KEY, base_url=fake.base_url, max_retries=0, timeout=10)
    call = asyncio.create_task(api.chat.completions.create(model="gpt-4o-mini", messages=USER))
    for _ in range(200):
        if fake.requests:
            break
        await asyncio.sleep(0.01)
    started = time.monotonic()
    await asyncio.to_thread(fake.stop)
    assert time.monotonic() - started < 1.0
    with pytest.raises(openai.APIConnectionError):
        await call
    await api.close()
