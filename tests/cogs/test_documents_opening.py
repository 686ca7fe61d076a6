"""The document index opens while the bot connects (bot/documents.py): requests wait for it, and an index
that can't be opened leaves documents unavailable with a message while everything else keeps working."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from dataclasses import replace

import discord
import pytest

from bot.app import TeamBot
from bot.config import Settings
from bot.documents import UNAVAILABLE
from bot.errors import UserError
from bot.forget import DOCUMENTS_UNAVAILABLE
from bot.services import Services
from bot.store import DocumentRecord
from index.vectors import DB_NAME
from index.where import Where
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

HANDBOOK = b"# Handbook\n\nEvery employee gets twenty-eight paid holiday days per year.\n"


def team(fd: FakeDiscord, name: str = "ann") -> tuple[discord.Guild, discord.TextChannel, discord.Member]:
    """A server with #general and one member."""
    guild = fd.guild("Team")
    return guild, fd.text_channel(guild, "general"), fd.member(guild, name, display_name=name.title())


def break_index(settings: Settings) -> None:
    """Overwrite the document index with bytes that aren't a database."""
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    (settings.index_dir / DB_NAME).write_bytes(b"not an SQLite database " * 64)


async def test_a_request_right_after_start_waits_for_the_index(
    settings: Settings, fake_ai: FakeOpenAI
) -> None:
    services = await Services.create(settings, open_documents=False)  # as `python -m bot` does
    assert services.documents.stack is None
    with pytest.raises(RuntimeError, match="not open yet"):
        services.library  # noqa: B018
    fd = await FakeDiscord(TeamBot(services, sync_commands=False)).start()
    try:
        _guild, general, ann = team(fd)
        added = await fd.slash("docs add", {"file": ("handbook.md", HANDBOOK)}, user=ann, channel=general)
        assert "✅ **handbook.md** indexed" in added.original.content
        asked = await fd.slash("ask", {"question": "paid holiday days"}, user=ann, channel=general)
        assert "[1] handbook.md" in asked.original.content  # the fake model echoes the cited sources
        assert "twenty-eight paid holiday days" in asked.original.content
        assert services.documents.stack is not None and services.library is services.documents.stack.library
    finally:
        await fd.close()


async def test_an_index_that_cannot_open_leaves_documents_unavailable_and_chat_working(
    settings: Settings, fake_ai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    break_index(settings)
    services = await Services.create(settings, open_documents=False)
    with caplog.at_level(logging.ERROR, logger="bot.documents"):
        fd = await FakeDiscord(TeamBot(services, sync_commands=False)).start()
        try:
            _guild, general, ann = team(fd)
            asked = await fd.slash("ask", {"question": "paid holiday days"}, user=ann, channel=general)
            assert UNAVAILABLE in asked.original.content and not asked.original.loading
            added = await fd.slash("docs add", {"file": ("handbook.md", HANDBOOK)}, user=ann, channel=general)
            assert UNAVAILABLE in added.original.content
            # Listing reads the database, not the index: it still works.
            listed = await fd.slash("docs list", {}, user=ann, channel=general)
            assert listed.ephemeral and "No documents yet" in listed.last.embeds[0].description
            assert await fd.autocomplete("docs remove", "document", "hand", user=ann, channel=general) == []
            await fd.send_message(general, ann, "hi there", mentions_bot=True)
            assert fd.last_sent(general).content == "echo: [Ann] hi there"
        finally:
            await fd.close()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "could not open the document index" in errors[0].getMessage()
    assert errors[0].exc_info is not None  # the host sees why


async def test_the_unavailable_message_is_translated(settings: Settings) -> None:
    break_index(settings)
    services = await Services.create(settings, open_documents=False)
    try:
        with pytest.raises(UserError) as refused:
            await services.documents.library()
        assert refused.value.kind == "documents_unavailable"
        assert "ドキュメントを利用できません" in refused.value.localized("ja")
    finally:
        await services.aclose()


async def test_creating_the_services_with_a_broken_index_fails_as_before(settings: Settings) -> None:
    # Tests and the CLI open the index up front: there, a broken one is an error at once.
    break_index(settings)
    with pytest.raises(Exception, match="not a database"):
        await Services.create(settings)


def cut_off_upload(guild_id: int, name: str) -> DocumentRecord:
    """A document record left 'indexing' by a crash, with no chunks in the index."""
    return DocumentRecord(
        id=f"doc-{name}", shard=str(guild_id), scope="server", scope_key=f"server:{guild_id}",
        guild_id=guild_id, channel_id=None, name=name, kind="md", size=10, sha256="0" * 64, pages=None,
        chunks=0, uploader_id=1, uploader_name="ann", status="indexing", created_at=time.time(),
    )


async def test_the_bot_recovers_cut_off_uploads_before_a_request_sees_them(
    settings: Settings, fake_ai: FakeOpenAI
) -> None:
    services = await Services.create(settings, open_documents=False)
    fd = FakeDiscord(TeamBot(services, sync_commands=False))
    guild = fd.guild("Team")
    await services.store.add_document(cut_off_upload(guild.id, "half.md"))
    await fd.start()
    try:
        general, ann = fd.text_channel(guild, "general"), fd.member(guild, "ann", display_name="Ann")
        # Re-uploading the same name at once must not meet the half-written record.
        added = await fd.slash("docs add", {"file": ("half.md", HANDBOOK)}, user=ann, channel=general)
        assert "✅ **half.md** indexed" in added.original.content
        assert await services.store.unfinished_documents() == []
        assert [d.name for d in await services.documents.visible(Where(guild.id, general.id, ann.id))] == [
            "half.md"
        ]
    finally:
        await fd.close()


async def test_a_failed_recovery_is_logged_and_documents_still_work(
    settings: Settings, fake_ai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from index.library import Library

    async def broken_recover(self: Library) -> int:
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(Library, "recover", broken_recover)  # the fault: the bookkeeping fails once
    services = await Services.create(settings, open_documents=False)
    with caplog.at_level(logging.ERROR, logger="bot.documents"):
        fd = await FakeDiscord(TeamBot(services, sync_commands=False)).start()
        try:
            _guild, general, ann = team(fd)
            added = await fd.slash("docs add", {"file": ("handbook.md", HANDBOOK)}, user=ann, channel=general)
            assert "✅ **handbook.md** indexed" in added.original.content
        finally:
            await fd.close()
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == ["could not finish or undo interrupted document uploads (the next start tries again)"]


async def test_closing_right_after_start_closes_the_index_it_was_opening(settings: Settings) -> None:
    services = await Services.create(settings, open_documents=False)
    documents = services.documents
    documents.start_in_background()
    await asyncio.sleep(0)  # the opening task runs and hands the index to its thread
    assert documents.stack is None
    await services.aclose()  # while the thread is opening it
    assert documents.stack is None and (settings.index_dir / DB_NAME).exists()
    with pytest.raises(UserError, match="unavailable"):
        await documents.library()  # closed: not opened again
    # Every connection to the index is closed: another writer can take it at once.
    db = sqlite3.connect(settings.index_dir / DB_NAME, timeout=0)
    db.execute("BEGIN EXCLUSIVE")
    db.close()


async def test_forget_me_with_documents_deletes_nothing_while_the_index_is_unavailable(
    settings: Settings, fake_ai: FakeOpenAI
) -> None:
    break_index(settings)
    services = await Services.create(settings, open_documents=False)
    fd = FakeDiscord(TeamBot(services, sync_commands=False))
    guild, general, aiko = team(fd, "aiko")
    notes = replace(cut_off_upload(guild.id, "notes.md"), status="ready", chunks=1, uploader_id=aiko.id)
    await services.store.add_document(notes)  # uploaded before the index broke
    await fd.start()
    try:
        await fd.send_message(general, aiko, "my badge is 4471", mentions_bot=True)
        rec = await fd.slash("forget-me", {}, user=aiko, channel=general)
        assert "1 documents you uploaded" in rec.last.content
        await fd.click(rec.last, label="Delete all, with my documents", user=aiko)
        assert DOCUMENTS_UNAVAILABLE in rec.last.content
        found = await services.store.user_footprint(aiko.id)
        assert found.turns == 1 and found.documents == 1  # nothing deleted
    finally:
        await fd.close()
    assert "ドキュメントを残す方を選んで" in UserError(DOCUMENTS_UNAVAILABLE).localized("ja")


async def test_requests_wait_for_the_recovery_of_cut_off_uploads(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from index.library import Library

    release = asyncio.Event()
    recover = Library.recover

    async def held_recover(self: Library) -> int:  # recovery held until the test lets it go
        await release.wait()
        return await recover(self)

    monkeypatch.setattr(Library, "recover", held_recover)
    services = await Services.create(settings, open_documents=False)
    try:
        await services.store.add_document(cut_off_upload(1, "half.md"))
        services.documents.start_in_background()
        where = Where(1, 2, 3)
        waiting = [asyncio.ensure_future(services.documents.library()),
                   asyncio.ensure_future(services.documents.visible(where))]
        await services.documents.opened()
        await asyncio.sleep(0.05)
        assert not any(task.done() for task in waiting)  # the index is open, but recovery isn't done
        release.set()
        library, visible = await asyncio.gather(*waiting)
        assert library is services.library and visible == []
        assert await services.store.unfinished_documents() == []
    finally:
        release.set()  # a failed check above must not leave aclose() waiting for the held recovery
        await services.aclose()


async def test_forget_me_without_documents_works_while_the_index_is_unavailable(
    settings: Settings, fake_ai: FakeOpenAI
) -> None:
    break_index(settings)
    services = await Services.create(settings, open_documents=False)
    fd = await FakeDiscord(TeamBot(services, sync_commands=False)).start()
    try:
        _guild, general, aiko = team(fd, "aiko")
        await fd.send_message(general, aiko, "my badge is 4471", mentions_bot=True)
        rec = await fd.slash("forget-me", {}, user=aiko, channel=general)
        await fd.click(rec.last, label="Delete", user=aiko)
        assert rec.last.content.startswith("Done. I deleted:")
        assert (await services.store.user_footprint(aiko.id)).turns == 0
    finally:
        await fd.close()
