"""Shared fixtures for the fake-server tests in tests/fakes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from openai import AsyncOpenAI

from tests.fakes.openai_server import FakeOpenAI, fake_openai

KEY = "sk-test"
USER = [{"role": "user", "content": "hello brave new world"}]


@pytest.fixture
def server() -> Iterator[FakeOpenAI]:
    with fake_openai(api_key=KEY, timeout_sleep=1.0) as fake:
        yield fake


@pytest.fixture
async def client(server: FakeOpenAI) -> AsyncIterator[AsyncOpenAI]:
    api = AsyncOpenAI(api_key=KEY, base_url=server.base_url, max_retries=0, timeout=3)
    yield api
    await api.close()
