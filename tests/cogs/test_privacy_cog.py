"""/forget-me through Discord: shows what is stored, deletes it on confirmation, documents only if asked."""

from __future__ import annotations

import asyncio
import time

import pytest

from bot.services import Services
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

NOTES = b"# Aiko's notes\n\nThe staging server restarts at midnight."


@pytest.fixture
def world(fd: FakeDiscord) -> dict:
    guild = fd.guild("Team")
    return {
        "guild": guild,
        "general": fd.text_channel(guild, "general"),
        "aiko": fd.member(guild, "aiko", display_name="Aiko"),
        "ken": fd.member(guild, "ken", display_name="Ken"),
    }


async def leave_traces(fd: FakeDiscord, world: dict) -> None:
    """Aiko chats in the server and in a DM and uploads a document; Ken chats too."""
    general, aiko = world["general"], world["aiko"]
    await fd.send_message(general, aiko, "my badge is 4471", mentions_bot=True)
    await fd.send_message(fd.dm_channel(aiko), aiko, "a private question")
    await fd.send_message(general, world["ken"], "deploy status?", mentions_bot=True)
    await fd.slash("docs add", {"file": ("notes.md", NOTES)}, user=world["aiko"], channel=world["general"])


def labels(message: object) -> list[str]:
    return [c["label"] for row in message.payload.get("components", []) for c in row["components"]]


async def test_forget_me_with_documents_removes_everything(
    fd: FakeDiscord, world: dict, services: Services, fake_ai: FakeOpenAI
) -> None:
    await leave_traces(fd, world)
    aiko = world["aiko"].id
    (doc,) = await services.library.uploaded_by(aiko)
    rec = await fd.slash("forget-me", {}, user=world["aiko"], channel=world["general"])
    assert rec.ephemeral
    question = rec.last.content
    assert "2 of your messages" in question and "1 documents you uploaded" in question
    assert labels(rec.last) == ["Delete all, with my documents", "Delete, keep my documents", "Cancel"]
    await fd.click(rec.last, label="Delete all, with my documents", user=world["aiko"])
    assert rec.last.content.startswith("Done. I deleted:") and "1 documents you uploaded" in rec.last.content
    assert labels(rec.last) == []
    store = services.store
    assert (await store.user_footprint(aiko)).turns == 0
    assert await services.library.uploaded_by(aiko) == []
    assert await asyncio.to_thread(services.vectors.chunk_count, doc.id) == 0
    # Usage: the server's totals stay; this month's stays linked until it ends (her limits hold).
    assert (await store.usage_totals(since=0, user_id=aiko))[0] > 0
    remaining = [t.content for t in await store.all_turns(world["general"].id)]
    assert remaining == ["[Ken] deploy status?", "echo: [Ken] deploy status?"]
    again = await fd.slash("forget-me", {}, user=world["aiko"], channel=world["general"])
    assert again.last.content == "I don't store anything about you."


async def test_forget_me_can_keep_the_documents(fd: FakeDiscord, world: dict, services: Services) -> None:
    await leave_traces(fd, world)
    rec = await fd.slash("forget-me", {}, user=world["aiko"], channel=world["general"])
    await fd.click(rec.last, label="Delete, keep my documents", user=world["aiko"])
    assert "Your 1 documents were kept." in rec.last.content
    assert [d.name for d in await services.library.uploaded_by(world["aiko"].id)] == ["notes.md"]
    assert (await services.store.user_footprint(world["aiko"].id)).turns == 0


async def test_cancel_deletes_nothing_and_others_cannot_answer(
    fd: FakeDiscord, world: dict, services: Services
) -> None:
    await leave_traces(fd, world)
    before = await services.store.user_footprint(world["aiko"].id)
    rec = await fd.slash("forget-me", {}, user=world["aiko"], channel=world["general"])
    stranger = await fd.click(rec.last, label="Delete all, with my documents", user=world["ken"])
    assert stranger.last.content == "This question isn't for you."
    await fd.click(rec.last, label="Cancel", user=world["aiko"])
    assert rec.last.content == "Cancelled: nothing was deleted."
    assert await services.store.user_footprint(world["aiko"].id) == before


async def test_forget_me_in_japanese(fd: FakeDiscord, world: dict, services: Services) -> None:
    await fd.send_message(world["general"], world["aiko"], f"{fd.bot_mention} こんにちは", mentions_bot=True)
    rec = await fd.slash("forget-me", {}, user=world["aiko"], channel=world["general"], locale="ja")
    assert rec.last.content.startswith("あなたについて保存している次のデータを削除します：")
    assert labels(rec.last) == ["削除する", "キャンセル"]  # no documents: no document choice
    await fd.click(rec.last, label="削除する", user=world["aiko"], locale="ja")
    done = rec.last.content.splitlines()
    assert done[:2] == ["完了しました。削除したデータ：", "• 会話の記憶にあったあなたのメッセージ 1 件"]


async def test_the_bot_folds_usage_kept_for_a_budget_once_its_month_is_over(
    settings, fake_ai: FakeOpenAI
) -> None:
    from bot.app import TeamBot
    from bot.limits import month_start
    from bot.store import UsageRecord

    services = await Services.create(settings)
    store = services.store
    last_month = month_start(time.time()) - 86_400
    await store.record_usage(UsageRecord(1, 7, "chat", "m", 10, 5, 0), at=last_month - 60)
    await store.forget_user(7, keep_since=month_start(last_month), now=last_month)  # kept for that month
    assert await store.usage_totals(since=0, user_id=7) == (10, 5, 0)
    fd = await FakeDiscord(TeamBot(services, sync_commands=False)).start()
    try:
        for _ in range(100):  # the fold runs as the bot starts, then every 6 hours
            if await store.usage_totals(since=0, user_id=7) == (0, 0, 0):
                break
            await asyncio.sleep(0.05)
        assert await store.usage_totals(since=0, user_id=7) == (0, 0, 0)
        assert await store.usage_totals(since=0, guild_id=1) == (10, 5, 0)  # as anonymous totals
    finally:
        await fd.close()
