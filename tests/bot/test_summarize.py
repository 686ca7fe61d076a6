"""Catch-up core: numbered transcript within a budget, citations as jump links, the model call."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.errors import UserError
from bot.llm import LLM, Who
from bot.summarize import ChannelMessage, Summarizer, link_citations, numbered_transcript
from tests.fakes.openai_server import FakeOpenAI

START = datetime(2025, 4, 1, 9, 0, tzinfo=UTC)
WHO = Who(1, 2, "summarize")


def message(n: int, author: str, text: str) -> ChannelMessage:
    url = f"https://discord.com/channels/1/2/{100 + n}"
    return ChannelMessage(100 + n, author, START + timedelta(minutes=n), text, url)


MESSAGES = [
    message(3, "Ken", "Decided: we ship on Friday."),
    message(1, "Aiko", "Should we ship the release this week?"),
    message(2, "Bob", ""),  # an image-only message: nothing to read
    message(4, "Aiko", "Bob, can you check the migration first? I'm waiting on you."),
]


def test_transcript_is_numbered_oldest_first_without_empty_messages() -> None:
    text, numbered = numbered_transcript(MESSAGES, budget=10_000)
    lines = text.splitlines()
    assert lines[0] == "[1] 2025-04-01 09:01 UTC Aiko: Should we ship the release this week?"
    assert [m.id for m in numbered.values()] == [101, 103, 104]
    assert lines[2].startswith("[3] 2025-04-01 09:04 UTC Aiko: Bob, can you check")


def test_transcript_keeps_the_newest_messages_that_fit() -> None:
    many = [message(i, "A", f"message number {i} " + "word " * 50) for i in range(1, 60)]
    text, numbered = numbered_transcript(many, budget=800)
    assert 3 <= len(numbered) < 59
    assert numbered[len(numbered)].id == 159  # the newest is always kept
    assert "message number 1 " not in text


def test_citations_become_jump_links_and_unknown_numbers_vanish() -> None:
    _, numbered = numbered_transcript(MESSAGES, budget=10_000)
    text, cited = link_citations("- Ship Friday [2][1]\n- Waiting on Bob [3] [9]", numbered)
    assert "[[2]](<https://discord.com/channels/1/2/103>)" in text
    assert "[[3]](<https://discord.com/channels/1/2/104>)" in text
    assert "[9]" not in text
    assert [m.id for m in cited] == [101, 103, 104]


async def test_summary_cites_messages_with_links(llm: LLM, fake_ai: FakeOpenAI) -> None:
    fake_ai.reply_with("**Decisions** — ship on Friday (Ken) [2]\n**Waiting on** — Aiko waits on Bob [3]")
    catch_up = await Summarizer(llm, context_tokens=16000).summarize(MESSAGES, who=WHO, locale="en-US")
    assert catch_up.read == 3
    assert "ship on Friday (Ken) [[2]](<https://discord.com/channels/1/2/103>)" in catch_up.text
    assert [m.author for m in catch_up.cited] == ["Ken", "Aiko"]
    sent = fake_ai.last_request("/chat/completions").json["messages"]
    assert "Waiting on" in sent[0]["content"] and "language most of the messages" in sent[0]["content"]
    assert sent[1]["content"].startswith("[1] ") and "[3] " in sent[1]["content"]


async def test_japanese_reader_gets_a_japanese_summary_request(llm: LLM, fake_ai: FakeOpenAI) -> None:
    fake_ai.reply_with("**決定事項** — 金曜にリリース [2]")
    await Summarizer(llm, context_tokens=16000).summarize(MESSAGES, who=WHO, locale="ja")
    system = fake_ai.last_request("/chat/completions").json["messages"][0]["content"]
    assert "Write the summary in Japanese." in system


async def test_nothing_to_summarize_is_a_clear_refusal(llm: LLM, fake_ai: FakeOpenAI) -> None:
    with pytest.raises(UserError) as caught:
        await Summarizer(llm, context_tokens=16000).summarize([message(1, "A", "  ")], who=WHO)
    assert caught.value.kind == "nothing_to_summarize"
    assert fake_ai.requests_to("/chat/completions") == []
