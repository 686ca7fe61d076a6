"""`python -m bot` as a real process, through discord.py's real gateway and REST clients.

The bot runs as the README's first command runs it (from the checkout, settings from the environment),
against a Discord-compatible test server (tests/fakes/discord_gateway.py, via DISCORD_API_BASE) and the
fake OpenAI server. Nothing in the bot is patched.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import discord
import pytest

from tests.conftest import TEST_KEY, TEST_TOKEN
from tests.fakes.discord_gateway import FakeDiscordGateway, RestCall
from tests.fakes.openai_server import FakeOpenAI

ROOT = Path(__file__).resolve().parents[1]
START_TIMEOUT = 30.0  # generous: a loaded 2-core machine; the goal (issue 7) is <= 3 s to IDENTIFY
REPLY_TIMEOUT = 20.0
EXPECTED_COMMANDS = {"chat", "reset", "persona", "ask", "docs"}
QUESTION = "what is the capital of France?"

pytestmark = pytest.mark.timeout(120)


class BotProcess:
    """`python -m bot` started from the checkout, its output going to files."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.out_path, self.err_path = logs / "stdout.txt", logs / "stderr.txt"
        logs.mkdir(parents=True, exist_ok=True)
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.started = time.monotonic()
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "bot"], cwd=ROOT, env=env, stdout=out, stderr=err
            )

    def output(self) -> tuple[str, str]:
        """What the process wrote so far: stdout, stderr."""
        return self.out_path.read_text(errors="replace"), self.err_path.read_text(errors="replace")

    def alive(self) -> bool:
        """Whether the process still runs (fails fast with its output when it died)."""
        if self.proc.poll() is None:
            return True
        raise AssertionError(f"the bot exited early with {self.proc.returncode}:\n{self.output()[1][-3000:]}")

    def stop(self, sig: signal.Signals) -> int:
        """Send `sig` and return the exit status."""
        self.proc.send_signal(sig)
        return self.proc.wait(timeout=30)

    def kill(self) -> None:
        """Make sure nothing outlives the test."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


@pytest.fixture
def discord_server() -> Iterator[FakeDiscordGateway]:
    with FakeDiscordGateway(token=TEST_TOKEN) as server:
        yield server


@pytest.fixture
def bot_env(tmp_path: Path, fake_ai: FakeOpenAI, discord_server: FakeDiscordGateway) -> dict[str, str]:
    """A clean environment, as on a new user's machine: only what the README asks for, plus the servers."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path / "home"),
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "DISCORD_TOKEN": TEST_TOKEN,
        "OPENAI_API_KEY": TEST_KEY,
        "OPENAI_BASE_URL": fake_ai.base_url,
        "DISCORD_API_BASE": discord_server.api_base,
        "DATA_DIR": str(tmp_path / "data"),
        "DEV_GUILD_ID": "",
    }


def expected_intents() -> int:
    """Guilds, guild messages, DMs and message content: nothing more."""
    wanted = discord.Intents.none()
    wanted.guilds = wanted.guild_messages = wanted.dm_messages = wanted.message_content = True
    return wanted.value


def wait_connected(server: FakeDiscordGateway, bot: BotProcess, count: int) -> float:
    """Wait for the `count`-th IDENTIFY; return seconds from process start to it."""
    server.wait_for(lambda: bot.alive() and len(server.identifies) >= count, START_TIMEOUT, "IDENTIFY")
    return server.identifies[count - 1].at - bot.started


def assert_no_mentions(call: RestCall) -> None:
    """A message the bot sent or edited can ping nobody."""
    allowed = call.body.get("allowed_mentions")
    assert allowed is not None and allowed.get("parse") == [], (call.path, allowed)
    assert not allowed.get("users") and not allowed.get("roles") and not allowed.get("replied_user")


def assert_clean_exit(bot: BotProcess, sig: signal.Signals) -> None:
    """The signal stops the bot with status 0, no traceback, and no secret in its output."""
    status = bot.stop(sig)
    out, err = bot.output()
    assert status == 0, f"{sig.name} gave exit status {status}:\n{err[-3000:]}"
    assert "Traceback" not in err and "Traceback" not in out, err[-3000:]
    for secret in (TEST_TOKEN, TEST_KEY):
        assert secret not in out and secret not in err


def test_python_m_bot_connects_syncs_once_answers_a_mention_and_stops_cleanly(
    discord_server: FakeDiscordGateway,
    fake_ai: FakeOpenAI,
    bot_env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = discord_server
    fake_ai.stream_delay = 0.25  # a reply streams for ~2 s: long enough for edits while it arrives

    first = BotProcess(bot_env, tmp_path / "first")
    try:
        startup = wait_connected(server, first, 1)
        identify = server.identifies[0]
        assert identify.token_ok
        assert identify.data["intents"] == expected_intents()
        assert identify.query["encoding"] == "json" and identify.query["v"] == "10"
        assert server.heartbeats >= 1, "discord.py heartbeats at once after HELLO and gets its ACK"

        syncs = server.calls_to("PUT", f"/applications/{server.app_id}/commands")
        assert len(syncs) == 1, "the first start syncs the commands globally, once"
        names = [c["name"] for c in syncs[0].body]
        assert set(names) >= EXPECTED_COMMANDS and len(names) == len(set(names)), names

        asked = server.push_mention(QUESTION)
        messages = f"/channels/{server.channel_id}/messages"
        expected = f"echo: [Alice] {QUESTION}"
        final = server.wait_for(
            lambda: first.alive()
            and [c for c in server.calls_to("PATCH", messages) if c.body.get("content") == expected],
            REPLY_TIMEOUT,
            "the final edit of the reply",
        )
        posts = server.calls_to("POST", messages)
        assert len(posts) == 1, [p.body for p in posts]
        assert int(posts[0].body["message_reference"]["message_id"]) == asked
        reply_id = int(posts[0].answer["id"])
        edits = server.calls_to("PATCH", f"{messages}/{reply_id}")
        assert len(edits) >= 2 and edits[-1] is final[-1], "edited while streaming, then finished"
        assert server.messages[reply_id]["content"] == expected
        for call in [*posts, *edits]:
            assert_no_mentions(call)
        # The placeholder is the first sign of life: no typing call holds it back.
        assert not server.calls_to("POST", f"/channels/{server.channel_id}/typing")
        assert [c for c in server.calls if c.status >= 400] == []
        assert_clean_exit(first, signal.SIGTERM)
    finally:
        first.kill()

    second = BotProcess(bot_env, tmp_path / "second")
    try:
        restart = wait_connected(server, second, 2)
        assert len(server.calls_to("PUT", "/applications/")) == 1, "unchanged commands are not synced again"
        assert_clean_exit(second, signal.SIGINT)
    finally:
        second.kill()

    with capsys.disabled():
        print(f"\n[start-up] python -m bot to IDENTIFY: {startup:.2f} s, again {restart:.2f} s (goal <= 3 s)")
