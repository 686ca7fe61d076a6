"""Data deletion: what forget_user removes, keeps and anonymises; documents with their vectors; the CLI."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from bot.config import Settings
from bot.forget import Forgetter, footprint_lines
from bot.limits import month_start, next_month
from bot.services import Services
from bot.store import Store, UsageRecord
from index.library import Where
from tests.bot.test_cli import teambot
from tests.fakes.openai_server import FakeOpenAI

AIKO, BOB = 7, 8
GENERAL, DM = 100, 200


async def talk(store: Store, channel: int, guild: int | None, author: int, text: str) -> None:
    name = {AIKO: "Aiko", BOB: "Bob"}[author]
    await store.add_turn(
        channel_id=channel, guild_id=guild, author_id=author, author_name=name, role="user",
        content=f"[{name}] {text}", tokens=5,
    )
    await store.add_turn(
        channel_id=channel, guild_id=guild, author_id=0, author_name="teambot", role="assistant",
        content=f"answer to {name}: {text}", tokens=5,
    )


async def populate(services: Services) -> None:
    store = services.store
    await talk(store, GENERAL, 1, AIKO, "my phone number is 555")
    await talk(store, GENERAL, 1, BOB, "deploy tomorrow")
    await talk(store, DM, None, AIKO, "private thought")
    turns = await store.all_turns(GENERAL)
    await store.set_summary(GENERAL, 1, "Aiko shared her phone number", turns[1].id)
    await store.set_summary(DM, None, "Aiko's private thoughts", 0)
    for user, tokens in ((AIKO, 100), (AIKO, 50), (BOB, 30)):
        await store.record_usage(UsageRecord(1, user, "chat", "gpt-4o-mini", tokens, tokens // 2, 0))
    await store.record_usage(UsageRecord(1, AIKO, "images", "gpt-image-1", 0, 0, 2))
    await store.add_generation(
        guild_id=1, channel_id=GENERAL, user_id=AIKO, kind="generate", prompt="my cat Tama", model="m",
        size="1024x1024", quality=None, count=2,
    )
    await services.library.add(
        b"# Aiko's notes\n\nThe staging password rotates monthly.", "notes.md", Where(1, GENERAL, AIKO),
        uploader_id=AIKO, uploader_name="Aiko",
    )
    await services.library.add(
        b"# Runbook\n\nRestart the worker with make restart.", "runbook.md", Where(1, GENERAL, BOB),
        uploader_id=BOB, uploader_name="Bob",
    )


async def test_footprint_counts_what_is_stored(services: Services) -> None:
    await populate(services)
    found = await Forgetter(services.store, services.documents).footprint(AIKO)
    assert (found.turns, found.answers, found.summaries, found.usage_rows, found.images, found.documents) == (
        2, 2, 2, 4, 1, 1,  # usage: three calls and the embedding of notes.md
    )
    assert any("2 of your messages" in line for line in footprint_lines(found))


async def test_forget_removes_their_data_and_keeps_everyone_elses(services: Services) -> None:
    await populate(services)
    store = services.store
    server_before = await store.usage_totals(since=0, guild_id=1)
    bob_before = await store.usage_totals(since=0, user_id=BOB)
    aiko_doc = (await services.library.uploaded_by(AIKO))[0]
    assert await asyncio.to_thread(services.vectors.chunk_count, aiko_doc.id) > 0

    done = await Forgetter(store, services.documents).forget(AIKO, documents=True)

    assert (done.turns, done.answers, done.summaries, done.images, done.documents) == (2, 2, 2, 1, 1)
    general = [t.content for t in await store.all_turns(GENERAL)]
    assert general == ["[Bob] deploy tomorrow", "answer to Bob: deploy tomorrow"]
    assert await store.all_turns(DM) == []
    assert (await store.channel_state(GENERAL)).summary == ""  # rebuilt later from the turns that remain
    assert (await store.channel_state(DM)).summary == ""
    # This month's usage stays linked to her until the month ends, so her own limits still hold.
    assert await store.usage_totals(since=0, user_id=AIKO) == (165, 75, 2)  # 15: embedding notes.md
    assert await store.usage_totals(since=0, guild_id=1) == server_before  # the server's totals stand
    assert await store.usage_totals(since=0, user_id=BOB) == bob_before
    assert await store.generations(user_id=AIKO) == []
    assert await services.library.uploaded_by(AIKO) == []
    assert await asyncio.to_thread(services.vectors.chunk_count, aiko_doc.id) == 0
    assert [d.name for d in await services.library.uploaded_by(BOB)] == ["runbook.md"]
    assert await Forgetter(store, services.documents).footprint(AIKO) == type(done)()  # the rest is due


async def test_documents_stay_when_the_user_keeps_them(services: Services) -> None:
    await populate(services)
    done = await Forgetter(services.store, services.documents).forget(AIKO, documents=False)
    assert done.documents == 0 and done.turns == 2
    assert [d.name for d in await services.library.uploaded_by(AIKO)] == ["notes.md"]


async def test_a_summary_without_their_turns_is_kept(services: Services) -> None:
    store = services.store
    await talk(store, GENERAL, 1, BOB, "first")
    bob_only = (await store.all_turns(GENERAL))[-1].id
    await store.set_summary(GENERAL, 1, "Bob said first", bob_only)
    await talk(store, GENERAL, 1, AIKO, "later, not summarized yet")
    done = await Forgetter(store, services.documents).forget(AIKO, documents=True)
    assert done.summaries == 0
    assert (await store.channel_state(GENERAL)).summary == "Bob said first"


async def test_purge_from_the_terminal(tmp_path: Path, fake_ai: FakeOpenAI, settings: Settings) -> None:
    data = tmp_path / "cli"
    services = await Services.create(settings.model_copy(update={"data_dir": data / "data"}))
    (data / "data").mkdir(parents=True, exist_ok=True)
    try:
        await populate(services)
    finally:
        await services.aclose()
    dry = teambot(data, fake_ai, "purge", "--user", str(AIKO), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "2 messages" in dry.stdout and "1 documents" in dry.stdout and "nothing deleted" in dry.stdout
    done = teambot(data, fake_ai, "purge", "--user", str(AIKO))
    assert done.returncode == 0, done.stderr
    assert "Deleted 2 messages, 2 answers, 1 image records and 1 documents" in done.stdout
    again = teambot(data, fake_ai, "purge", "--user", str(AIKO))
    assert "Nothing is stored about user 7." in again.stdout
    services = await Services.create(settings.model_copy(update={"data_dir": data / "data"}))
    try:
        assert await services.store.all_turns(DM) == []
        assert [d.name for d in await services.library.uploaded_by(BOB)] == ["runbook.md"]
    finally:
        await services.aclose()


async def test_forgotten_usage_is_anonymous_at_once_before_this_month_and_at_its_end_after(
    services: Services,
) -> None:
    store = services.store
    now = time.time()
    await store.record_usage(UsageRecord(1, AIKO, "chat", "m", 10, 5, 0), at=month_start(now) - 3600)
    await store.record_usage(UsageRecord(1, AIKO, "chat", "m", 20, 10, 0), at=now - 1)
    done = await Forgetter(store, services.documents).forget(AIKO, documents=False)
    assert done.usage_rows == 2
    assert await store.usage_totals(since=0, user_id=AIKO) == (20, 10, 0)  # this month's only
    assert await store.usage_totals(since=0, guild_id=1) == (30, 15, 0)
    await store.record_usage(UsageRecord(1, AIKO, "chat", "m", 1, 1, 0), at=now + 1)  # hers again
    assert await store.anonymize_due_usage(month_start(now)) == 0  # the month isn't over
    assert await store.anonymize_due_usage(next_month(now)) == 1
    assert await store.usage_totals(since=0, user_id=AIKO) == (1, 1, 0)  # only what came after
    assert await store.usage_totals(since=0, guild_id=1) == (31, 16, 0)
    assert await store.anonymize_due_usage(next_month(now)) == 0  # nothing left pending
