"""Documents through Discord: /docs add|list|remove, /ask with sources, mention uploads, watched channel."""

from __future__ import annotations

import discord
import pytest

from bot.app import TeamBot
from bot.i18n import Msg
from bot.services import Services
from bot.store import DocumentRecord
from bot.ui import sources_embed
from cogs.docs import docs_embed
from index.query import Source, chat_sources_prompt
from tests.conftest import make_settings
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI
from tests.index.builders import make_pdf

SALARIES = b"# Pay\n\nBob earns 50000 a year; the salary review is in April.\n"
HANDBOOK = b"# Handbook\n\n## Holidays\nEvery employee gets twenty-eight paid holiday days per year.\n"


@pytest.fixture
def world(fd: FakeDiscord) -> dict:
    guild = fd.guild("Team")
    return {
        "guild": guild,
        "general": fd.text_channel(guild, "general"),
        "random": fd.text_channel(guild, "random"),
        "ann": fd.member(guild, "ann", display_name="Ann", permissions=discord.Permissions.none()),
        "bob": fd.member(guild, "bob", display_name="Bob", permissions=discord.Permissions.none()),
        "admin": fd.member(
            guild, "admin", display_name="Admin", permissions=discord.Permissions(manage_guild=True)
        ),
    }


async def docs_add(fd: FakeDiscord, world: dict, files: dict, channel: str = "general", **options: object):
    return await fd.slash("docs add", {**files, **options}, user=world["ann"], channel=world[channel])


async def test_add_shows_progress_and_a_summary(fd: FakeDiscord, world: dict) -> None:
    pdf = make_pdf(["Intro page.", "The warranty lasts five years.", "The end."])
    rec = await docs_add(fd, world, {"file": ("handbook.md", HANDBOOK), "file2": ("manual.pdf", pdf)})
    assert rec.deferred
    final = rec.original.content
    assert "✅ **handbook.md** indexed" in final and "✅ **manual.pdf** indexed: 3 pages" in final
    assert any("Reading" in c for c in rec.original.contents)


async def test_one_bad_file_does_not_undo_the_others(
    fd: FakeDiscord, world: dict, services: Services
) -> None:
    rec = await docs_add(
        fd,
        world,
        {
            "file": ("good.md", HANDBOOK),
            "file2": ("fake.pdf", b"not a pdf"),
            "file3": ("tool.exe", b"MZ\x00\x01"),
        },
    )
    final = rec.original.content
    assert "✅ **good.md**" in final
    assert "⚠️ **fake.pdf**" in final and "damaged" in final
    assert "⚠️ **tool.exe**" in final and "supported" in final.lower()
    assert [d.name for d in await services.library.visible(services_where(world))] == ["good.md"]


def services_where(world: dict):
    from index.library import Where

    return Where(world["guild"].id, world["general"].id, world["ann"].id)


async def test_reupload_says_already_indexed(fd: FakeDiscord, world: dict) -> None:
    await docs_add(fd, world, {"file": ("handbook.md", HANDBOOK)})
    rec = await docs_add(fd, world, {"file": ("handbook.md", HANDBOOK)})
    assert "already indexed" in rec.original.content


async def test_ask_answers_with_citations_and_sources_embed(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    await docs_add(fd, world, {"file": ("handbook.md", HANDBOOK)})
    fake_ai.reply_with("Twenty-eight days [1].")
    rec = await fd.slash(
        "ask", {"question": "how many paid holiday days?"}, user=world["bob"], channel=world["random"]
    )
    assert rec.original.content == "Twenty-eight days [1]."
    (embed,) = rec.original.embeds
    assert embed.title == "Sources" and embed.fields[0].name.startswith("[1] handbook.md")
    assert "Holidays" in embed.fields[0].name and "twenty-eight" in embed.fields[0].value


async def test_ask_without_documents_says_nothing_found(fd: FakeDiscord, world: dict) -> None:
    rec = await fd.slash(
        "ask", {"question": "what is our holiday policy?"}, user=world["bob"], channel=world["general"]
    )
    assert "couldn't find anything" in rec.original.content and not rec.original.embeds


async def test_channel_scope_stays_in_its_channel(fd: FakeDiscord, world: dict) -> None:
    await docs_add(fd, world, {"file": ("handbook.md", HANDBOOK)}, scope="channel")
    here = await fd.slash(
        "ask", {"question": "paid holiday days"}, user=world["bob"], channel=world["general"]
    )
    there = await fd.slash(
        "ask", {"question": "paid holiday days"}, user=world["bob"], channel=world["random"]
    )
    assert here.original.embeds and "couldn't find anything" in there.original.content


async def test_list_and_remove_with_autocomplete(fd: FakeDiscord, world: dict) -> None:
    await docs_add(fd, world, {"file": ("handbook.md", HANDBOOK)})
    listing = await fd.slash("docs list", {}, user=world["bob"], channel=world["general"])
    assert listing.ephemeral and "handbook.md" in listing.last.embeds[0].description
    assert "added by Ann" in listing.last.embeds[0].description
    choices = await fd.autocomplete(
        "docs remove", "document", "hand", user=world["bob"], channel=world["general"]
    )
    assert [c.name for c in choices] == ["handbook.md (server)"]
    ja = await fd.autocomplete(
        "docs remove", "document", "hand", user=world["bob"], channel=world["general"], locale="ja"
    )
    assert [c.name for c in ja] == ["handbook.md (サーバー)"]
    refused = await fd.slash(
        "docs remove", {"document": choices[0].value}, user=world["bob"], channel=world["general"]
    )
    assert "Only Ann" in refused.last.content and "Manage Server" in refused.last.content
    done = await fd.slash(
        "docs remove", {"document": choices[0].value}, user=world["admin"], channel=world["general"]
    )
    assert "Removed **handbook.md**" in done.last.content
    assert done.deferred and done.ephemeral  # a removal may wait for a new version going in
    listing = await fd.slash("docs list", {}, user=world["bob"], channel=world["general"])
    assert "No documents yet" in listing.last.embeds[0].description


async def test_remove_takes_a_typed_name_unless_two_documents_share_it(fd: FakeDiscord, world: dict) -> None:
    await docs_add(fd, world, {"file": ("handbook.md", HANDBOOK)})
    desks = b"# Channel handbook\nDesks are free.\n"
    await docs_add(fd, world, {"file": ("handbook.md", desks)}, scope="channel")

    async def remove(typed: str, channel: str) -> str:
        rec = await fd.slash("docs remove", {"document": typed}, user=world["ann"], channel=world[channel])
        return rec.last.content

    assert "Several documents here are called 'handbook.md'" in await remove("handbook.md", "general")
    # In #random only the server's handbook is visible: the name is one document's there.
    assert "Removed **handbook.md**" in await remove("HANDBOOK.md ", "random")
    listing = await fd.slash("docs list", {}, user=world["ann"], channel=world["general"])
    described = listing.last.embeds[0].description
    assert described.count("handbook.md") == 1 and "· channel ·" in described


async def test_files_on_a_mention_are_indexed_and_the_text_answered(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    await fd.send_message(
        world["general"],
        world["ann"],
        f"{fd.bot_mention} here is our handbook",
        mentions_bot=True,
        attachments=[("handbook.md", HANDBOOK)],
    )
    contents = [m.content for m in fd.sent(world["general"])]
    assert any("✅ **handbook.md** indexed" in c for c in contents)
    assert any(c == "echo: [Ann] here is our handbook" for c in contents)


async def test_a_file_forwarded_to_the_bot_is_indexed(fd: FakeDiscord, world: dict) -> None:
    original = await fd.send_message(
        world["general"], world["ann"], "", attachments=[("handbook.md", HANDBOOK)]
    )
    dm = fd.dm_channel(world["ann"])
    await fd.forward_message(dm, world["ann"], original)
    assert "✅ **handbook.md** indexed" in fd.last_sent(dm).content
    assert len(fd.sent(dm)) == 1  # the status only: chat leaves a message of files to the documents


async def test_files_on_a_mention_where_the_bot_cannot_read_history(fd: FakeDiscord, world: dict) -> None:
    # Discord refuses replies from a bot without Read Message History: the status is posted plain.
    no_history = {world["guild"].me: discord.PermissionOverwrite(read_message_history=False)}
    quiet = fd.text_channel(world["guild"], "no-history", overwrites=no_history)
    await fd.send_message(
        quiet, world["ann"], f"{fd.bot_mention} handbook", mentions_bot=True,
        attachments=[("handbook.md", HANDBOOK)],
    )
    status = next(m for m in fd.sent(quiet) if "handbook.md" in m.content)
    assert "✅ **handbook.md** indexed" in status.content and "message_reference" not in status.payload


def private_channel(fd: FakeDiscord, world: dict, name: str = "hr-private") -> object:
    guild = world["guild"]
    hidden = {guild.default_role: discord.PermissionOverwrite(view_channel=False),
              world["ann"]: discord.PermissionOverwrite(view_channel=True),
              guild.me: discord.PermissionOverwrite(view_channel=True)}
    return fd.text_channel(guild, name, overwrites=hidden)


async def test_files_posted_in_a_private_channel_stay_in_it(fd: FakeDiscord, world: dict) -> None:
    hr = private_channel(fd, world)
    await fd.send_message(hr, world["ann"], "salaries", mentions_bot=True, attachments=[("pay.md", SALARIES)])
    status = next(m for m in fd.sent(hr) if "pay.md" in m.content)
    assert "✅ **pay.md** indexed" in status.content
    assert "🔒 This channel is private, so these are used in it only" in status.content
    elsewhere = await fd.slash("ask", {"question": "Bob salary"}, user=world["bob"], channel=world["random"])
    assert "couldn't find anything" in elsewhere.original.content and not elsewhere.original.embeds
    inside = await fd.slash("ask", {"question": "Bob salary"}, user=world["ann"], channel=hr)
    assert inside.original.embeds  # cited where it was posted


async def test_docs_add_scope_defaults_to_a_private_channel_and_says_so(fd: FakeDiscord, world: dict) -> None:
    hr = private_channel(fd, world)
    world["hr"] = hr
    kept = await docs_add(fd, world, {"file": ("pay.md", SALARIES)}, channel="hr")
    assert "🔒 This channel is private" in kept.last.content
    shared = await docs_add(fd, world, {"file": ("handbook.md", HANDBOOK)}, channel="hr", scope="server")
    assert "📚 Used in every channel of this server." in shared.last.content
    public = await docs_add(fd, world, {"file": ("notes.md", b"# Notes\nThe office opens at nine.\n")})
    assert "📚 Used in every channel of this server." in public.last.content
    ja = await fd.slash(
        "docs add", {"file": ("more.md", b"# More\nLunch is at noon.\n")}, user=world["ann"],
        channel=hr, locale="ja",
    )
    assert "🔒 このチャンネルは非公開のため" in ja.last.content


async def test_a_file_in_reply_to_the_bot_is_indexed(fd: FakeDiscord, world: dict) -> None:
    await fd.send_message(world["general"], world["ann"], "hello", mentions_bot=True)
    answer = fd.last_sent(world["general"])
    await fd.send_message(
        world["general"], world["ann"], "", reply_to=answer, ping_reply=False,
        attachments=[("handbook.md", HANDBOOK)],
    )
    assert "✅ **handbook.md** indexed" in fd.last_sent(world["general"]).content


async def test_too_many_files_at_once(fd: FakeDiscord, world: dict) -> None:
    files = [(f"f{i}.txt", f"file number {i} text".encode()) for i in range(5)]
    await fd.send_message(
        world["general"], world["ann"], fd.bot_mention, mentions_bot=True, attachments=files
    )
    assert "at most 3 at once" in fd.last_sent(world["general"]).content


async def test_watched_channel_indexes_posted_files(settings, fake_ai: FakeOpenAI) -> None:
    services = await Services.create(settings)
    fd = await FakeDiscord(TeamBot(services, sync_commands=False)).start()
    guild = fd.guild("Team")
    uploads = fd.text_channel(guild, "uploads")
    ann = fd.member(guild, "ann", display_name="Ann")
    await fd.close()
    watched = make_settings(settings.data_dir, fake_ai.base_url, watch_channel_ids=str(uploads.id))
    services = await Services.create(watched)
    await fd.restart(TeamBot(services, sync_commands=False))
    await fd.send_message(uploads, ann, "monthly report", attachments=[("report.md", HANDBOOK)])
    assert "✅ **report.md** indexed" in fd.last_sent(uploads).content
    await fd.close()


async def test_ask_when_the_provider_is_down_replaces_thinking(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    await docs_add(fd, world, {"file": ("handbook.md", HANDBOOK)})
    fake_ai.fail_next("unavailable", times=5)
    rec = await fd.slash(
        "ask", {"question": "paid holiday days"}, user=world["bob"], channel=world["general"]
    )
    assert "problem on its side" in rec.original.content
    assert not rec.original.loading


async def test_a_long_upload_summary_is_split_not_stuck(settings, fake_ai: FakeOpenAI) -> None:
    # Ten refused files explained pass Discord's 2000 characters: the status was left on "Reading…".
    ten = make_settings(settings.data_dir, fake_ai.base_url, max_files_per_upload=10)
    services = await Services.create(ten)
    fd = await FakeDiscord(TeamBot(services, sync_commands=False)).start()
    guild = fd.guild("Team")
    general = fd.text_channel(guild, "general")
    ann = fd.member(guild, "ann", display_name="Ann")
    files = [(f"report-{i:02d}-" + "x" * 60 + ".exe", b"MZ\x90\x00" + bytes(200)) for i in range(10)]
    await fd.send_message(general, ann, "", mentions_bot=True, attachments=files)
    shown = [m.content for m in fd.sent(general)]
    assert all(len(c) <= 2000 for c in shown) and not any("Reading" in c for c in shown)
    assert sum(c.count("⚠️ **report-") for c in shown) == 10
    fd.assert_clean()
    await fd.close()


def record(i: int, size: int, chunks: int) -> DocumentRecord:
    return DocumentRecord(
        f"id{i}", "1", "server", "server:1", 1, None, f"report-{i:02d}.md", "markdown", size, "0" * 64,
        None, chunks, 7, "Ann", "ready", 1_700_000_000.0,
    )


def test_a_long_document_list_shows_whole_lines_and_says_how_many_more() -> None:
    docs = [record(i, 300 + i * 5000, 1 + i % 3) for i in range(60)]
    text = docs_embed(docs).description
    lines = text.split("\n")
    shown = [line for line in lines if line.startswith("**report-")]
    assert len(text) <= 4000 and 30 < len(shown) < 60
    assert all(line.endswith(":d>") for line in shown)  # no line cut inside its timestamp
    assert lines[-1] == f"…and {60 - len(shown)} more."
    assert "· <1 KB · 1 chunk ·" in shown[0] and "· 5 KB · 2 chunks ·" in shown[1]
    ja = docs_embed(docs, "ja").description
    assert "· 1 KB 未満 · 1 チャンク ·" in ja and ja.split("\n")[-1].startswith("…ほか ")


def test_sources_show_pages_and_lines_in_the_readers_language() -> None:
    sources = [
        Source(1, "a", "manual.pdf", Msg("page {page}", page=2), "excerpt", "text"),
        Source(2, "b", "app.py", Msg("lines {lines}", lines="10-20"), "excerpt", "text"),
    ]
    assert [f.name for f in sources_embed(sources).fields] == [
        "[1] manual.pdf — page 2", "[2] app.py — lines 10-20"
    ]
    assert [f.name for f in sources_embed(sources, "ja").fields] == [
        "[1] manual.pdf — 2 ページ", "[2] app.py — 10-20 行目"
    ]
    assert chat_sources_prompt(sources).count("(page 2)") == 1  # the model reads them in English
