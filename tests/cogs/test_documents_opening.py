"""The document index opens while the bot connects (bot/documents.py): requests wait for it, and an index
that can't be opened leaves documents unavailable with a message while everything else keeps working."""

from __future__ import annotations

import logging

import pytest

from bot.app import TeamBot
from bot.config import Settings
from bot.documents import UNAVAILABLE
from bot.errors import UserError
from bot.services import Services
from index.vectors import DB_NAME
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

HANDBOOK = b"# Handbook\n\nEvery employee gets twenty-eight paid holiday days per year.\n"


async def test_a_request_right_after_start_waits_for_the_index(
    settings: Settings, fake_ai: FakeOpenAI
) -> None:
    services = await Services.create(settings, open_documents=False)  # as `python -m bot` does
    assert services.documents.stack is None
    with pytest.raises(RuntimeError, match="not open yet"):
        services.library  # noqa: B018
    fd = await FakeDiscord(TeamBot(services, sync_commands=False)).start()
    try:
        guild = fd.guild("Team")
        general, ann = fd.text_channel(guild, "general"), fd.member(guild, "ann", display_name="Ann")
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
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    (settings.index_dir / DB_NAME).write_bytes(b"this is not an SQLite database " * 64)
    services = await Services.create(settings, open_documents=False)
    with caplog.at_level(logging.ERROR, logger="bot.documents"):
        fd = await FakeDiscord(TeamBot(services, sync_commands=False)).start()
        try:
            guild = fd.guild("Team")
            general, ann = fd.text_channel(guild, "general"), fd.member(guild, "ann", display_name="Ann")
            asked = await fd.slash("ask", {"question": "paid holiday days"}, user=ann, channel=general)
            assert UNAVAILABLE in asked.original.content and not asked.original.loading
            added = await fd.slash("docs add", {"file": ("handbook.md", HANDBOOK)}, user=ann, channel=general)
            assert UNAVAILABLE in added.original.content
            listed = await fd.slash("docs list", {}, user=ann, channel=general)
            assert listed.ephemeral and UNAVAILABLE in listed.last.content
            await fd.send_message(general, ann, "hi there", mentions_bot=True)
            assert fd.last_sent(general).content == "echo: [Ann] hi there"
        finally:
            await fd.close()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "could not open the document index" in errors[0].getMessage()
    assert errors[0].exc_info is not None  # the host sees why


async def test_the_unavailable_message_is_translated(settings: Settings) -> None:
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    (settings.index_dir / DB_NAME).write_bytes(b"\x00garbage" * 100)
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
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    (settings.index_dir / DB_NAME).write_bytes(b"\x00garbage" * 100)
    with pytest.raises(Exception, match="not a database"):
        await Services.create(settings)
