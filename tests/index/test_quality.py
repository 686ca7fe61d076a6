"""A small, fast retrieval-quality check on the fake embeddings (bench/quality.py is the real one).

The fake embeddings are hashed bags of words, so the vector side is lexical too; what this guards is the
pipeline around it: parsing each format to clean text, chunk metadata (page, section), the keyword
index (stemming, Japanese bigrams), the translation of questions, and the fusion of the rankings.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.llm import Who
from bot.services import Services
from bot.tokens import count_tokens
from index.library import Where
from index.query import TOP_K
from index.rewrite import REWRITE_PROMPT
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI, message_text
from tests.index.builders import make_docx, make_pdf

WHERE = Where(guild_id=1, channel_id=10, user_id=7)
WHO = Who(1, 7, "ask")

HANDBOOK = b"""# Team handbook

## Holidays
Every employee gets twenty-eight paid holiday days per year, booked in the vacation planner.

## Expenses
Taxi receipts are reimbursed within thirty days by the finance team.

## Security
Laptops lock automatically after five minutes; report a lost badge to the front desk at once.
"""
OPS = b"""<!doctype html><html><head><title>Operations</title></head><body>
<div class="topbar"><a href="/">Home</a> <a href="/pricing">Pricing</a> <a href="/careers">Careers</a>
<a href="/blog">Blog</a> <a href="/contact">Contact</a></div>
<div id="toc"><ul><li><a href="#deploys">Deploys</a></li><li><a href="#rollbacks">Rollbacks</a></li>
<li><a href="#oncall">On-call</a></li></ul></div>
<h1>Operations</h1>
<h2 id="deploys">Deploys</h2><p>Production deploys happen on Tuesdays and Thursdays after the standup.</p>
<h2 id="rollbacks">Rollbacks</h2><p>To roll back, run the pipeline named undo-release from the dashboard.</p>
<h2 id="oncall">On-call</h2><p>The on-call engineer answers pages within fifteen minutes.</p>
<ul><li><a href="/a">Imprint</a></li><li><a href="/b">Privacy</a></li><li><a href="/c">Cookies</a></li></ul>
</body></html>"""
MANUAL = [
    "Introduction to the Widget 3000.",
    "The warranty lasts five years for hardware parts.",
    "Cleaning: wipe the sensor with a dry cloth every month.",
]
POLICY = [
    ("Title", "Travel policy"),
    ("1", "Flights"),
    (None, "Economy class is required for flights shorter than six hours."),
    ("1", "Hotels"),
    (None, "Hotel stays are capped at 180 euros per night."),
]
NOTES = b"The build server runs Jenkins on port 8080.\n\nWiki backups are configured and scheduled by ops."
RULES = (
    "リモートワークは週に三日まで認められています。申請は前日までに上長へ提出してください。\n\n"
    "会議室の予約は社内ポータルから行います。"
)
PHONES = b"name,office,phone\nAlice,Tokyo,555-0100\nBob,Osaka,555-0199\n"
# What a chat model would answer when asked for an English version of the question.
TRANSLATIONS = {"タクシーの領収書はいつ払い戻されますか?": "When are taxi receipts reimbursed?"}


@dataclass(frozen=True)
class Case:
    """A question, the file and text that answer it, and where the citation must point."""

    question: str
    file: str
    snippet: str
    location: str | None = None


CASES = [
    Case("how many paid holiday days per year?", "handbook.md", "twenty-eight", "Holidays"),
    Case("when do production deploys happen?", "ops.html", "Tuesdays and Thursdays", "Deploys"),
    Case("how do I roll back a release?", "ops.html", "undo-release", "Rollbacks"),
    Case("how long does the hardware warranty last?", "manual.pdf", "five years", "page 2"),
    Case("how often should the sensor be wiped?", "manual.pdf", "dry cloth", "page 3"),
    Case("what is the hotel limit per night?", "policy.docx", "180 euros", "Hotels"),
    Case("which seat class for short flights?", "policy.docx", "Economy class", "Flights"),
    Case("which port does Jenkins listen on?", "notes.txt", "8080"),
    Case("what is Bob's phone number?", "phones.csv", "555-0199", "rows 2-3"),
    Case("リモートワークは週に何日まで認められますか?", "就業規則.txt", "週に三日"),
    Case("会議室の予約方法は?", "就業規則.txt", "社内ポータル"),
    # Japanese question, English document: only the translation shares words with the answer.
    Case("タクシーの領収書はいつ払い戻されますか?", "handbook.md", "thirty days", "Expenses"),
    # A paraphrase only the keyword side finds: it shares stems (porter), not words, with the passage.
    Case("configuring backup schedules", "notes.txt", "Wiki backups are configured"),
]


def translate(request: dict[str, Any]) -> str:
    """The stand-in chat model: a fixed English version of a known question, else the text unchanged."""
    text = message_text(request["messages"][-1]["content"])
    return TRANSLATIONS.get(text, text)


@pytest.fixture
async def library(tmp_path: Path, fake_ai: FakeOpenAI) -> AsyncIterator[Services]:
    # A small embedding window, so long chunks are embedded in several parts as with a small model.
    settings = make_settings(tmp_path / "data", fake_ai.base_url, embed_max_tokens=64, chunk_tokens=200)
    services = await Services.create(settings)
    fake_ai.reply_with(translate)
    files = {
        "handbook.md": HANDBOOK,
        "ops.html": OPS,
        "manual.pdf": make_pdf(MANUAL),
        "policy.docx": make_docx(POLICY),
        "notes.txt": NOTES,
        "就業規則.txt": RULES.encode("cp932"),
        "phones.csv": PHONES,
    }
    for name, data in files.items():
        await services.library.add(data, name, WHERE, uploader_id=7, uploader_name="Ann")
    yield services
    await services.aclose()


def rank_of(case: Case, nodes: list[Any]) -> int | None:
    """Rank (1-based) of the first passage from the right file with the answer and the right citation."""
    from index.query import location_of

    for rank, node in enumerate(nodes, start=1):
        if node.metadata.get("filename") != case.file or case.snippet not in node.get_content():
            continue
        if case.location is None or case.location in location_of(node):
            return rank
    return None


async def test_every_question_finds_its_passage_and_citation(library: Services) -> None:
    ranks = {}
    for case in CASES:
        nodes = await library.answerer.retrieve(case.question, WHERE, who=WHO)
        ranks[case.question] = rank_of(case, nodes)
    missed = {q: r for q, r in ranks.items() if r is None}
    assert not missed, f"not in the top {TOP_K}: {missed}"
    first = sum(r == 1 for r in ranks.values()) / len(ranks)
    assert first >= 0.9, f"hit@1 {first:.2f}: {ranks}"


async def test_the_paraphrase_is_found_by_the_keyword_side_only_and_survives_fusion(
    library: Services,
) -> None:
    case = CASES[-1]
    scopes = WHERE.visible_scopes()
    (vector,) = await library.llm.embed([case.question], who=WHO)
    by_vector = library.vectors.search(WHERE.shard, scopes, vector, TOP_K)
    by_keyword = library.vectors.keyword_search(WHERE.shard, scopes, case.question, TOP_K)
    assert rank_of(case, [n for n, score in by_vector if score >= 0.2]) is None
    assert rank_of(case, [n for n, _ in by_keyword]) == 1
    assert rank_of(case, await library.answerer.retrieve(case.question, WHERE, who=WHO)) == 1


async def test_a_japanese_question_about_english_text_is_translated_once(
    library: Services, fake_ai: FakeOpenAI
) -> None:
    fake_ai.reset()
    fake_ai.reply_with(translate)
    question = "タクシーの領収書はいつ払い戻されますか?"
    await library.answerer.retrieve(question, WHERE, who=WHO)
    await library.answerer.retrieve(question, WHERE, who=WHO)
    asked = fake_ai.requests_to("/chat/completions")
    assert len(asked) == 1  # cached
    messages = asked[0].json["messages"]
    assert messages[0]["content"] == REWRITE_PROMPT.format(language="English")
    assert messages[1]["content"] == question
    await library.answerer.retrieve("how many paid holiday days?", WHERE, who=WHO)
    assert len(fake_ai.requests_to("/chat/completions")) == 1  # English needs no translation


async def test_chunks_longer_than_the_embedding_model_reads_are_embedded_in_parts(
    library: Services, fake_ai: FakeOpenAI
) -> None:
    inputs = [text for request in fake_ai.requests_to("/embeddings") for text in request.json["input"]]
    chunks = sum(doc.chunks for doc in await library.library.visible(WHERE))
    assert all(count_tokens(text) <= 64 for text in inputs)
    assert len(inputs) > chunks


async def test_navigation_and_link_lists_are_not_indexed(library: Services) -> None:
    nodes = await library.answerer.retrieve("Pricing Careers Blog Contact Imprint Privacy", WHERE, who=WHO)
    texts = " ".join(n.get_content() for n in nodes)
    assert "Careers" not in texts and "Privacy" not in texts
    ops = await library.answerer.retrieve("deploys rollbacks on-call", WHERE, who=WHO)
    assert all("Rollbacks\nOn-call" not in n.get_content() for n in ops)  # the table of contents


async def test_a_failed_translation_still_searches_the_question_as_asked(
    library: Services, fake_ai: FakeOpenAI
) -> None:
    fake_ai.fail_next("server_error", times=5, path="/chat/completions")
    nodes = await library.answerer.retrieve("リモートワークは週に何日?", WHERE, who=WHO)
    assert nodes and nodes[0].metadata["filename"] == "就業規則.txt"
