"""Provider faults in every feature at once: a specific message in time, no placeholder left, the other
channels answered meanwhile, the chat turn kept, and no secret anywhere.

Each fault is aimed at one feature's requests by a marker word in the request body, so the five features
and a bystander channel run concurrently against one fake provider.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import discord
import pytest

from bot.services import Services
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, closed_port_url
from tests.reliability.conftest import LogCapture, everything_shown, final_text, leaked_secrets

DEADLINE = 60.0
BYSTANDER_TURNS = 3
SURFACES = ("chat", "ask", "code", "imagine", "upload")
PATHS = {
    "chat": "/chat/completions",
    "ask": "/chat/completions",
    "code": "/chat/completions",
    "imagine": "/images/generations",
    "upload": "/embeddings",
}
# The words the user sees for each fault; a dict gives a feature its own words.
EXPECTED: dict[str, str | dict[str, str]] = {
    "rate_limit": "rate-limiting us. Please try again in about",
    "server_error": "had a problem on its side",
    "unavailable": "had a problem on its side",
    "refused": "can't be reached right now",
    "timeout": {
        "default": "took too long to answer",
        "imagine": "took longer than the provider's time limit",
    },
    "broken_stream": {
        "default": "can't be reached right now",  # a cut-off JSON body is a dropped connection, retried
        "chat": "answer was cut off part-way",
        "code": "answer was cut off part-way",
    },
    "disconnect": "can't be reached right now",
    "malformed": "sent an answer we couldn't read",
    "invalid_key": "rejected the API key. An admin needs to check OPENAI_API_KEY",
    "quota": "out of quota. An admin needs to check the plan or billing",
    "model_not_found": {
        "default": "doesn't have the model",
        "imagine": "can't make images with `gpt-image-1`",
    },
    "context_length": {  # what to do about it depends on what was asked
        "default": "too long for the model to read at once. Try something shorter",
        "chat": "Try a shorter message or `/reset` the channel",
        "code": "That code is too long for the model to read at once",
        "ask": "The question and its sources are too long for the model",
        "upload": "too long for the embedding model. Try splitting the file",
    },
    "content_policy": "safety system refused this request",
}
# How placeholders and progress lines begin: none may be what a message says at the end.
PLACEHOLDER_STARTS = ("…", "🎨 Making", "🖌️ Editing", "🔀 Making", "📄 Reading", "Reading **", "Indexing **")


def expected(kind: str, surface: str) -> str:
    """The words a user of `surface` must see for fault `kind`."""
    entry = EXPECTED[kind]
    return entry if isinstance(entry, str) else entry.get(surface, entry["default"])


@dataclass
class World:
    """A server with a channel per feature, a bystander channel and a user."""

    fd: FakeDiscord
    channels: dict[str, discord.TextChannel]
    alice: discord.Member

    @classmethod
    def make(cls, fd: FakeDiscord) -> World:
        """Build it."""
        guild = fd.guild("Team")
        channels = {name: fd.text_channel(guild, name) for name in (*SURFACES, "bystander")}
        return cls(fd, channels, fd.member(guild, "alice", display_name="Alice"))


def marker(surface: str) -> str:
    """The word that only this feature's requests carry."""
    return f"FAULT{surface.upper()}"


async def start(world: World, surface: str) -> Callable[[], str]:
    """Start one feature's request without waiting; returns a reader of what its user sees now."""
    fd, channel, alice, word = world.fd, world.channels[surface], world.alice, marker(surface)
    if surface == "chat":
        await fd.send_message(channel, alice, f"{word} what is new?", mentions_bot=True, settle=False)
        return lambda: "\n".join(m.content for m in fd.sent(channel))
    if surface == "ask":
        rec = await fd.slash("ask", {"question": f"{word} holiday policy?"}, user=alice, channel=channel,
                             settle=False)
    elif surface == "code":
        rec = await fd.slash("code explain", {"code": f"print('{word}')"}, user=alice, channel=channel,
                             settle=False)
    elif surface == "imagine":
        rec = await fd.slash("imagine", {"prompt": f"{word} a red fox"}, user=alice, channel=channel,
                             settle=False)
    else:
        upload = ("notes.md", f"# Notes\n\n{word} the release is on Friday.\n".encode())
        rec = await fd.slash("docs add", {"file": upload}, user=alice, channel=channel, settle=False)
    return lambda: final_text(rec)


async def until(read: Callable[[], str], words: str, started: float) -> float:
    """Seconds from `started` until `read()` shows `words` (bounded by the deadline)."""
    deadline = started + DEADLINE
    while words not in read():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {words!r} within {DEADLINE} s; shown: {read()!r}")
        await asyncio.sleep(0.01)
    return time.monotonic() - started


async def bystander(world: World, reply: str) -> list[float]:
    """Chat turns in another channel while the faults play out; seconds each took to be answered."""
    fd, channel, took = world.fd, world.channels["bystander"], []
    for n in range(BYSTANDER_TURNS):
        began = time.monotonic()
        await fd.send_message(channel, world.alice, f"bystander turn {n}", mentions_bot=True, settle=False)
        want = f"echo: [Alice] bystander turn {n}" if reply == "echo" else reply

        def answered(want: str = want, n: int = n) -> str:
            sent = fd.sent(channel)
            return sent[-1].content if len(sent) > n else ""

        took.append(await until(answered, want, began))
    return took


async def ask_document(world: World) -> None:
    """A document in the /ask channel, so /ask gets as far as the answering model call."""
    upload = ("policy.md", f"# Policy\n\n{marker('ask')} holidays are 28 days a year.\n".encode())
    rec = await world.fd.slash("docs add", {"file": upload, "scope": "channel"}, user=world.alice,
                               channel=world.channels["ask"])
    assert "indexed" in final_text(rec)


def assert_no_placeholder(fd: FakeDiscord) -> None:
    """No message is still loading or shows a placeholder, cursor or progress line."""
    for message in fd.sent():
        text = message.content
        assert not message.loading, message.payload
        assert not text.startswith(PLACEHOLDER_STARTS), text
        assert "thinking" not in text and not text.endswith("▌"), text


async def run_fault(kind: str, fd: FakeDiscord, fake_ai: FakeOpenAI, services: Services,
                    logs: LogCapture) -> dict[str, float]:
    """Every feature meets fault `kind` at once; returns the seconds each took to show its message."""
    world = World.make(fd)
    await ask_document(world)
    if kind == "refused":
        services.llm.client.base_url = closed_port_url()  # the provider is gone: every request is refused
    else:
        for surface in SURFACES:
            fake_ai.fail_next(kind, 10, PATHS[surface], containing=marker(surface))
    started = time.monotonic()
    readers = {surface: await start(world, surface) for surface in SURFACES}
    watch = [until(readers[s], expected(kind, s), started) for s in SURFACES]
    reply = "echo" if kind != "refused" else expected(kind, "chat")
    *seconds, bystanding = await asyncio.gather(*watch, bystander(world, reply))
    await fd.settle(timeout=DEADLINE)
    took = dict(zip(SURFACES, seconds, strict=True))

    for surface in SURFACES:
        assert "⚠️" in readers[surface](), (surface, readers[surface]())
    assert_no_placeholder(fd)
    assert max(bystanding) < 2.0, f"bystander waited {bystanding} while {kind} played out: {took}"
    if max(took.values()) > 1.5:  # slow faults (timeouts, Retry-After): the bystander was served meanwhile
        assert sum(bystanding) < max(took.values()), (bystanding, took)
    turns = await services.store.all_turns(world.channels["chat"].id)
    assert [t.content for t in turns] == [f"[Alice] {marker('chat')} what is new?"]  # kept, unanswered
    shown = everything_shown(fd)
    assert not [text for text in shown if "error id" in text], "a fault fell through to the generic error"
    assert not leaked_secrets(shown) and not leaked_secrets(logs.lines)
    return took


@pytest.mark.parametrize("kind", list(EXPECTED))
async def test_every_feature_explains_a_provider_fault(
    kind: str, rfd: FakeDiscord, fake_ai: FakeOpenAI, rservices: Services, all_logs: LogCapture
) -> None:
    took = await run_fault(kind, rfd, fake_ai, rservices, all_logs)
    assert max(took.values()) < DEADLINE


@pytest.mark.parametrize("kind", ["rate_limit", "server_error", "unavailable", "disconnect"])
async def test_a_passing_fault_is_retried_unseen(
    kind: str, rfd: FakeDiscord, fake_ai: FakeOpenAI, rservices: Services
) -> None:
    world = World.make(rfd)
    fake_ai.fail_next(kind, 1, "/chat/completions")
    await rfd.send_message(world.channels["chat"], world.alice, "hello again", mentions_bot=True)
    assert rfd.last_sent(world.channels["chat"]).content == "echo: [Alice] hello again"
    if kind == "rate_limit":  # the Retry-After was honoured: the second try came after it
        first, second = fake_ai.requests_to("/chat/completions")[-2:]
        assert second.received_at - first.received_at >= fake_ai.retry_after


async def test_the_kept_turn_is_in_the_next_answer(
    rfd: FakeDiscord, fake_ai: FakeOpenAI, rservices: Services
) -> None:
    world = World.make(rfd)
    channel = world.channels["chat"]
    fake_ai.fail_next("unavailable", 5, "/chat/completions")
    await rfd.send_message(channel, world.alice, "remember the code word OKAPI", mentions_bot=True)
    assert "⚠️" in rfd.last_sent(channel).content
    await rfd.send_message(channel, world.alice, "what was the code word?", mentions_bot=True)
    prompt = fake_ai.last_request("/chat/completions").json["messages"]
    assert "[Alice] remember the code word OKAPI" in str(prompt)
    assert rfd.last_sent(channel).content == "echo: [Alice] what was the code word?"
