"""The reliability suite's shared pieces: settings without team limits, the bot on Discord doubles, and a
watch over every log record for the test secrets.

Sizes: CI runs a small, seeded sample; `RELIABILITY_FULL=1` runs the full one (20 kills, 1,000 isolation
steps); `RELIABILITY_KILLS`, `RELIABILITY_STEPS` and `RELIABILITY_SEED` set each knob on its own.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path

import pytest

from bot.app import TeamBot
from bot.config import Settings
from bot.services import Services
from tests.conftest import TEST_KEY, TEST_TOKEN, make_settings
from tests.fakes.discord import FakeDiscord, InteractionRecord, SentMessage
from tests.fakes.openai_server import FakeOpenAI

FULL = os.environ.get("RELIABILITY_FULL") == "1"
SECRETS = (TEST_KEY, TEST_TOKEN)
# The team controls (rate limits and budgets) would refuse the hundreds of requests one test user makes here.
_LIMITS = (
    "user_requests_per_minute", "server_requests_per_minute", "user_tokens_per_day", "user_tokens_per_month",
    "server_tokens_per_day", "server_tokens_per_month", "user_images_per_day", "server_images_per_day",
)
LIMITS_OFF = {name: 0 for name in _LIMITS if name in Settings.model_fields}
MAX_UPLOAD_MB = 4


def knob(name: str, ci: int, full: int) -> int:
    """A size of the run: the environment variable if set, else the full or the CI value."""
    value = os.environ.get(name)
    return int(value) if value else (full if FULL else ci)


def reliability_settings(data_dir: Path, base_url: str, **overrides: object) -> Settings:
    """Test settings with the team limits off and a 4 MB upload limit (so "limit + 1" stays small)."""
    return make_settings(data_dir, base_url, **{**LIMITS_OFF, "max_upload_mb": MAX_UPLOAD_MB, **overrides})


class LogCapture(logging.Handler):
    """Keeps every record as the text a log file would get: message, then traceback."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []
        self._format = logging.Formatter("%(name)s %(levelname)s %(message)s")

    def emit(self, record: logging.LogRecord) -> None:
        """Render the record in full (a crash report is the traceback of an error record)."""
        self.lines.append(self._format.format(record))


@pytest.fixture
def all_logs() -> Iterator[LogCapture]:
    """Every log record of the test, at DEBUG, from every library (openai, httpx, discord, the bot)."""
    root = logging.getLogger()
    handler = LogCapture()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def leaked_secrets(texts: Iterable[str]) -> list[str]:
    """The texts that contain one of the test secrets (or its first half: partial masking still leaks)."""
    needles = [s for secret in SECRETS for s in (secret, secret[: len(secret) // 2])]
    return [text[:200] for text in texts if any(n in text for n in needles)]


def said(message: SentMessage) -> list[str]:
    """Everything a message ever showed: each content version, embeds and text files."""
    texts = [*message.contents, message.content, *(str(e) for e in message.raw_embeds)]
    texts += [f.data.decode("utf-8", "replace") for f in message.files]
    return texts


def everything_shown(fd: FakeDiscord) -> list[str]:
    """All text the bot put in front of users: messages (deleted ones too), modals and autocomplete."""
    texts = [t for m in fd.sent(include_deleted=True) for t in said(m)]
    texts += [m.title + str(m.components) for m in fd.modals]
    texts += [str(rec.response or "") + str(rec.choices or "") for rec in fd.interactions]
    return texts


def final_text(rec: InteractionRecord) -> str:
    """What an interaction's messages say now, joined."""
    return "\n".join(m.content for m in rec.messages)


@pytest.fixture
def rsettings(tmp_path: Path, fake_ai: FakeOpenAI) -> Settings:
    """Settings on a temporary DATA_DIR against the session's fake OpenAI."""
    return reliability_settings(tmp_path / "data", fake_ai.base_url)


async def start_bot(services: Services) -> FakeDiscord:
    """A real TeamBot on the Discord doubles, logged in with the test token."""
    return await FakeDiscord(TeamBot(services, sync_commands=False), token=TEST_TOKEN).start()


@pytest.fixture
async def rservices(rsettings: Settings) -> AsyncIterator[Services]:
    """The real services with fast retries."""
    services = await Services.create(rsettings)
    services.llm.retry_base = 0.01
    yield services
    await services.aclose()


@pytest.fixture
async def rfd(rservices: Services) -> AsyncIterator[FakeDiscord]:
    """The bot on the Discord doubles."""
    harness = await start_bot(rservices)
    yield harness
    await harness.close()
