"""Documents in chat through Discord: /docs chat, cited mentions and /chat with a sources embed, Japanese."""

from __future__ import annotations

import discord
import pytest

from bot.app import TeamBot
from bot.server_settings import GuildFacts
from bot.services import Services
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI

HANDBOOK = b"# Handbook\n\n## Holidays\nEvery employee gets twenty-eight paid holiday days per year.\n"
REFUSED = "Choosing whether chat here uses the documents needs the Manage Channels permission."


@pytest.fixture
def world(fd: FakeDiscord) -> dict:
    guild = fd.guild("Team")
    return {
        "guild": guild,
        "general": fd.text_channel(guild, "general"),
        "ann": fd.member(guild, "ann", display_name="Ann", permissions=discord.Permissions.none()),
        "mod": fd.member(
            guild, "mod", display_name="Mod", permissions=discord.Permissions(manage_channels=True)
        ),
    }


async def with_handbook(fd: FakeDiscord, world: dict) -> None:
    await fd.slash(
        "docs add", {"file": ("handbook.md", HANDBOOK)}, user=world["ann"], channel=world["general"]
    )


async def docs_chat(fd: FakeDiscord, world: dict, mode: str, user: str = "mod", locale: str = "en-US"):
    return await fd.slash(
        "docs chat", {"mode": mode}, user=world[user], channel=world["general"], locale=locale
    )


async def test_docs_chat_needs_manage_channels(fd: FakeDiscord, world: dict, services: Services) -> None:
    rec = await docs_chat(fd, world, "on", user="ann")
    assert rec.ephemeral and rec.last.content == REFUSED
    assert (await services.store.channel_state(world["general"].id)).docs_in_chat is None


async def test_docs_chat_on_makes_a_mention_cite_with_a_sources_embed(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    await with_handbook(fd, world)
    rec = await docs_chat(fd, world, "on")
    assert rec.ephemeral
    assert (
        rec.last.content
        == "✅ Chat here draws on the documents this channel can see (this channel's setting)."
    )
    fake_ai.reply_with("Twenty-eight days a year [1].")
    await fd.send_message(
        world["general"], world["ann"], f"{fd.bot_mention} how many paid holiday days?", mentions_bot=True
    )
    reply = fd.last_sent(world["general"])
    assert reply.content == "Twenty-eight days a year [1]."
    (embed,) = reply.embeds
    assert embed.title == "Sources" and embed.fields[0].name == "[1] handbook.md — Handbook > Holidays"
    assert "twenty-eight" in embed.fields[0].value


async def test_slash_chat_gets_the_sources_embed_too(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    await with_handbook(fd, world)
    await docs_chat(fd, world, "on")
    fake_ai.reply_with("Twenty-eight [1].")
    rec = await fd.slash(
        "chat", {"message": "paid holiday days?"}, user=world["ann"], channel=world["general"]
    )
    assert rec.original.content == "Twenty-eight [1]."
    assert rec.original.embeds[0].fields[0].name.startswith("[1] handbook.md")


async def test_without_docs_in_chat_a_mention_has_no_sources(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    await with_handbook(fd, world)
    fake_ai.reply_with("I don't know [1].")
    await fd.send_message(
        world["general"], world["ann"], f"{fd.bot_mention} paid holiday days?", mentions_bot=True
    )
    assert fd.last_sent(world["general"]).embeds == []


async def test_channel_off_and_server_default(
    fd: FakeDiscord, world: dict, services: Services, fake_ai: FakeOpenAI
) -> None:
    guild = world["guild"].id
    await services.server_settings.set(
        guild, "docs_in_chat", "on", GuildFacts(), user_id=1, user_name="Admin"
    )
    off = await docs_chat(fd, world, "off")
    assert off.last.content == "✅ Chat here doesn't draw on the documents (this channel's setting)."
    listing = await fd.slash("docs list", {}, user=world["ann"], channel=world["general"])
    footer = listing.last.embeds[0].footer.text
    assert footer.startswith("Chat here doesn't draw on the documents") and "/docs chat" in footer
    default = await docs_chat(fd, world, "default")
    assert default.last.content.endswith("(the server's setting).") and "draws on" in default.last.content
    assert (await services.store.channel_state(world["general"].id)).docs_in_chat is None


async def test_a_failed_document_search_still_answers_with_a_note(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    await with_handbook(fd, world)
    await docs_chat(fd, world, "on")
    fake_ai.fail_next("unavailable", times=5, path="/embeddings")
    await fd.send_message(
        world["general"], world["ann"], f"{fd.bot_mention} paid holiday days?", mentions_bot=True
    )
    reply = fd.last_sent(world["general"])
    assert reply.content.startswith("echo: [Ann] paid holiday days?")
    assert "couldn't search the documents just now" in reply.content and reply.embeds == []


async def test_docs_chat_in_japanese(fd: FakeDiscord, world: dict) -> None:
    refused = await docs_chat(fd, world, "on", user="ann", locale="ja")
    assert refused.last.content == (
        "ここでのチャットにドキュメントを使うかどうかを設定するには「チャンネルの管理」権限が必要です。"
    )
    done = await docs_chat(fd, world, "on", locale="ja")
    assert (
        done.last.content
        == "✅ ここでのチャットは、このチャンネルで参照できるドキュメントを使います（このチャンネルの設定）。"
    )


async def test_docs_chat_description_and_choices_are_synced_in_japanese(services: Services) -> None:
    fd = await FakeDiscord(TeamBot(services)).start()
    (sync,) = [c for c in fd.calls if c.method == "PUT" and c.path.endswith("/commands")]
    await fd.close()
    docs = next(c for c in sync.json if c["name"] == "docs")
    chat = next(o for o in docs["options"] if o["name"] == "chat")
    assert chat["description_localizations"]["ja"].startswith(
        "このチャンネルのチャットでドキュメントを使うかどうか"
    )
    (mode,) = chat["options"]
    assert mode["name"] == "mode" and mode["required"]
    assert mode["description_localizations"]["ja"] == "オン・オフ、またはサーバーの設定に従う"
    assert [c["value"] for c in mode["choices"]] == ["on", "off", "default"]
    assert all("ja" in c["name_localizations"] for c in mode["choices"])
