"""Shared fixtures: the fake OpenAI server, settings on a temporary DATA_DIR, the real services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.config import Settings
from bot.llm import LLM
from bot.services import Services
from bot.store import Store
from tests.fakes.openai_server import FakeOpenAI

TEST_KEY = "sk-test-secret-key-0123456789"
TEST_TOKEN = "MTAxMjM0NTY3ODkw.discord-test-token.abcdefghijklmnop"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No setting leaks in from the developer's shell or from another test."""
    for name in Settings.model_fields:
        monkeypatch.delenv(name.upper(), raising=False)


@pytest.fixture(scope="session")
def openai_server() -> Iterator[FakeOpenAI]:
    server = FakeOpenAI(api_key=TEST_KEY, timeout_sleep=3.0)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def fake_ai(openai_server: FakeOpenAI) -> Iterator[FakeOpenAI]:
    """The session's fake server, reset to its defaults for this test."""
    tunables = {k: v for k, v in vars(openai_server).items() if not k.startswith("_") and k != "models"}
    models = dict(openai_server.models)
    openai_server.reset()
    yield openai_server
    openai_server.reset()
    for name, value in tunables.items():
        setattr(openai_server, name, value)
    openai_server.set_models(models)


def make_settings(data_dir: Path, base_url: str, **overrides: object) -> Settings:
    """Settings for tests: the fake server, a temporary DATA_DIR, no .env file."""
    values: dict[str, object] = {
        "discord_token": TEST_TOKEN,
        "openai_api_key": TEST_KEY,
        "openai_base_url": base_url,
        "data_dir": data_dir,
        "request_timeout": 2.0,
        "max_retries": 2,
    }
    values.update(overrides)
    data_dir.mkdir(parents=True, exist_ok=True)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


@pytest.fixture
def settings(tmp_path: Path, fake_ai: FakeOpenAI) -> Settings:
    return make_settings(tmp_path / "data", fake_ai.base_url)


@pytest.fixture
async def store(settings: Settings) -> AsyncIterator[Store]:
    s = await Store(settings.database_path).open()
    yield s
    await s.close()


@pytest.fixture
async def llm(settings: Settings, store: Store) -> AsyncIterator[LLM]:
    client = LLM(settings, on_usage=store.record_usage, retry_base=0.01)
    yield client
    await client.aclose()


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    svc = await Services.create(settings)
    svc.llm.retry_base = 0.01
    yield svc
    await svc.aclose()
