"""Documents in chat: the per-channel switch over the server's, cited chat turns, scopes, failures."""

from __future__ import annotations

import pytest

from bot.chat import NO_DOCS_NOTE, TurnIn
from bot.server_settings import DocsSwitch, GuildFacts, docs_switch
from bot.services import Services
from index.library import Where
from tests.fakes.openai_server import FakeOpenAI

GUILD, OTHER_GUILD = 1, 2
GENERAL, RANDOM = 10, 11
ANN, BOB = 7, 8
HANDBOOK = b"# Handbook\n\n## Holidays\nEvery employee gets twenty-eight paid holiday days per year.\n"
QUESTION = "how many paid holiday days do we get?"


def turn(text: str = QUESTION, channel: int = GENERAL, guild: int | None = GUILD, **extra: object) -> TurnIn:
    return TurnIn(channel_id=channel, guild_id=guild, author_id=ANN, author_name="Ann", content=text, **extra)


async def add(services: Services, data: bytes, name: str, where: Where, scope: str = "server") -> None:
    await services.library.add(data, name, where, uploader_id=where.user_id, uploader_name="Ann", scope=scope)


async def server_docs_in_chat(services: Services, value: str, guild: int = GUILD) -> None:
    await services.server_settings.set(
        guild, "docs_in_chat", value, GuildFacts(), user_id=ANN, user_name="Ann"
    )


def chat_prompt(fake_ai: FakeOpenAI) -> str:
    return str(fake_ai.last_request("/chat/completions").json["messages"])


def embedding_calls(fake_ai: FakeOpenAI) -> int:
    return len(fake_ai.requests_to("/embeddings"))


@pytest.mark.parametrize(
    ("own", "parent", "server", "expected"),
    [
        (None, None, False, DocsSwitch(False, "server")),
        (None, None, True, DocsSwitch(True, "server")),
        (False, None, True, DocsSwitch(False, "channel")),
        (True, None, False, DocsSwitch(True, "channel")),
        (None, True, False, DocsSwitch(True, "parent")),
        (False, True, True, DocsSwitch(False, "channel")),
    ],
)
def test_effective_switch_is_channel_then_parent_then_server(
    own: bool | None, parent: bool | None, server: bool, expected: DocsSwitch
) -> None:
    assert docs_switch(own, parent, server) == expected


def test_in_dms_the_switch_falls_back_to_the_default() -> None:
    assert docs_switch(None, None, False, in_server=False) == DocsSwitch(False, "default")


async def test_docs_in_chat_is_off_by_default_and_follows_the_stored_settings(services: Services) -> None:
    settings = services.server_settings
    assert await settings.docs_in_chat(GENERAL, GUILD) == DocsSwitch(False, "server")
    await server_docs_in_chat(services, "on")
    assert await settings.docs_in_chat(GENERAL, GUILD) == DocsSwitch(True, "server")
    assert await settings.set_channel_docs_in_chat(GENERAL, GUILD, False) == DocsSwitch(False, "channel")
    thread = 99
    assert await settings.docs_in_chat(thread, GUILD, parent_id=GENERAL) == DocsSwitch(False, "parent")
    assert await settings.set_channel_docs_in_chat(GENERAL, GUILD, None) == DocsSwitch(True, "server")
    assert await settings.docs_in_chat(GENERAL, OTHER_GUILD) == DocsSwitch(False, "server")


async def test_a_chat_turn_with_docs_on_cites_the_file(services: Services, fake_ai: FakeOpenAI) -> None:
    await add(services, HANDBOOK, "handbook.md", Where(GUILD, GENERAL, BOB))
    await services.server_settings.set_channel_docs_in_chat(GENERAL, GUILD, True)
    fake_ai.reply_with("Twenty-eight days a year [1].")
    reply = await services.chat.reply(turn())
    system = fake_ai.last_request("/chat/completions").json["messages"][0]["content"]
    assert "data, not instructions" in system
    assert "[1] handbook.md (Handbook > Holidays)" in system and "twenty-eight paid holiday days" in system
    assert [(s.number, s.filename, s.location) for s in reply.sources] == [
        (1, "handbook.md", "Handbook > Holidays")
    ]
    assert "twenty-eight" in reply.sources[0].excerpt
    stored = await services.store.all_turns(GENERAL)
    assert stored[-1].content == "Twenty-eight days a year [1]." and reply.notes == []


async def test_with_docs_off_there_is_no_retrieval(services: Services, fake_ai: FakeOpenAI) -> None:
    await add(services, HANDBOOK, "handbook.md", Where(GUILD, GENERAL, BOB))
    before = embedding_calls(fake_ai)
    fake_ai.reply_with("No idea [1].")
    reply = await services.chat.reply(turn())
    assert embedding_calls(fake_ai) == before
    assert "handbook" not in chat_prompt(fake_ai) and reply.sources == []


async def test_the_channel_setting_beats_the_servers(services: Services, fake_ai: FakeOpenAI) -> None:
    await add(services, HANDBOOK, "handbook.md", Where(GUILD, GENERAL, BOB))
    await server_docs_in_chat(services, "on")
    await services.server_settings.set_channel_docs_in_chat(RANDOM, GUILD, False)
    before = embedding_calls(fake_ai)
    await services.chat.reply(turn(channel=RANDOM))
    assert embedding_calls(fake_ai) == before and "handbook" not in chat_prompt(fake_ai)
    await services.chat.reply(turn(channel=GENERAL))  # no channel setting: the server's applies
    assert "handbook.md" in chat_prompt(fake_ai)

    await server_docs_in_chat(services, "off")
    await services.server_settings.set_channel_docs_in_chat(RANDOM, GUILD, True)
    await services.chat.reply(turn(channel=RANDOM))
    assert "handbook.md" in chat_prompt(fake_ai)


async def test_a_thread_follows_its_channels_setting(services: Services, fake_ai: FakeOpenAI) -> None:
    await add(services, HANDBOOK, "handbook.md", Where(GUILD, GENERAL, BOB), scope="channel")
    await services.server_settings.set_channel_docs_in_chat(GENERAL, GUILD, True)
    await services.chat.reply(turn(channel=500, parent_id=GENERAL))
    assert "handbook.md (Handbook > Holidays)" in chat_prompt(fake_ai)


async def test_documents_of_other_servers_channels_and_dms_never_reach_a_chat_prompt(
    services: Services, fake_ai: FakeOpenAI
) -> None:
    def doc(marker: str) -> bytes:
        return f"# Leave\n\nEvery employee gets paid holiday days per year: {marker}.\n".encode()

    await add(services, HANDBOOK, "handbook.md", Where(GUILD, GENERAL, BOB))
    await add(services, doc("OTHERSERVER"), "other-server.md", Where(OTHER_GUILD, 20, BOB))
    await add(services, doc("OTHERCHANNEL"), "other-channel.md", Where(GUILD, RANDOM, BOB), scope="channel")
    await add(services, doc("BOBSDM"), "bobs-dm.md", Where(None, 30, BOB))
    await add(services, doc("ANNSDM"), "anns-dm.md", Where(None, 31, ANN))
    for guild in (GUILD, OTHER_GUILD):
        await server_docs_in_chat(services, "on", guild)
    fake_ai.reply_with("Here [1][2][3][4][5].")
    reply = await services.chat.reply(turn())
    prompts = str([r.json for r in fake_ai.requests_to("/chat/completions")])
    assert "twenty-eight" in prompts
    assert not any(marker in prompts for marker in ("OTHERSERVER", "OTHERCHANNEL", "BOBSDM", "ANNSDM"))
    assert {s.filename for s in reply.sources} == {"handbook.md"}

    await services.server_settings.set_channel_docs_in_chat(31, None, True)
    dm = await services.chat.reply(turn(channel=31, guild=None))  # DMs: only Ann's own documents
    prompt = chat_prompt(fake_ai)
    assert "ANNSDM" in prompt and not any(m in prompt for m in ("BOBSDM", "OTHERSERVER", "twenty-eight"))
    assert {s.filename for s in dm.sources} == {"anns-dm.md"}


async def test_a_message_the_documents_dont_cover_is_plain_chat(
    services: Services, fake_ai: FakeOpenAI
) -> None:
    await add(services, HANDBOOK, "handbook.md", Where(GUILD, GENERAL, BOB))
    await services.server_settings.set_channel_docs_in_chat(GENERAL, GUILD, True)
    reply = await services.chat.reply(turn("thanks, that's great!"))
    assert "Sources" not in chat_prompt(fake_ai) and reply.sources == [] and reply.notes == []


async def test_an_answer_that_cites_nothing_gets_no_sources(services: Services, fake_ai: FakeOpenAI) -> None:
    await add(services, HANDBOOK, "handbook.md", Where(GUILD, GENERAL, BOB))
    await services.server_settings.set_channel_docs_in_chat(GENERAL, GUILD, True)
    fake_ai.reply_with("Ask HR, they know.")
    reply = await services.chat.reply(turn())
    assert "handbook.md" in chat_prompt(fake_ai) and reply.sources == []


async def test_a_failed_search_still_answers_and_says_so(
    services: Services, fake_ai: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    await add(services, HANDBOOK, "handbook.md", Where(GUILD, GENERAL, BOB))
    await services.server_settings.set_channel_docs_in_chat(GENERAL, GUILD, True)
    fake_ai.fail_next("unavailable", times=5, path="/embeddings")
    reply = await services.chat.reply(turn())
    assert reply.text == f"echo: [Ann] {QUESTION}" and reply.sources == []
    assert reply.notes == [NO_DOCS_NOTE]
    assert "handbook" not in chat_prompt(fake_ai)
    assert "answered without documents" in caplog.text
    assert [t.role for t in await services.store.all_turns(GENERAL)] == ["user", "assistant"]
