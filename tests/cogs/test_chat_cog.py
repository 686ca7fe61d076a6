"""Chat through Discord: mentions, replies, DMs, /chat, streaming, no pings, errors, /reset, /persona."""

from __future__ import annotations

import asyncio

import discord
import pytest

from bot.store import Store
from bot.ui import CURSOR, ChannelTarget
from tests.fakes.discord import DiscordWouldRefuse, FakeDiscord
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
def world(fd: FakeDiscord) -> dict:
    guild = fd.guild("Team")
    return {
        "guild": guild,
        "general": fd.text_channel(guild, "general"),
        "random": fd.text_channel(guild, "random"),
        "alice": fd.member(guild, "alice", display_name="Alice", permissions=discord.Permissions.none()),
        "mod": fd.member(
            guild, "mod", display_name="Mod", permissions=discord.Permissions(manage_channels=True)
        ),
    }


async def test_a_quick_answer_is_posted_once_whole(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ChannelTarget, "grace", 5.0)  # "quick" however slow the machine running the test
    fake_ai.reply_with("Hello Alice, nice to meet you today")
    await fd.send_message(world["general"], world["alice"], f"{fd.bot_mention} hi there", mentions_bot=True)
    reply = fd.last_sent(world["general"])
    assert reply.contents == ["Hello Alice, nice to meet you today"]  # no placeholder, no edit
    assert reply.reference is not None
    assert [c.method for c in fd.calls if c.path.startswith("/channels/")] == ["POST"]
    assert fake_ai.last_request("/chat/completions").json["messages"][-1]["content"] == "[Alice] hi there"


async def test_a_slow_answer_shows_the_placeholder_first(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    fake_ai.reply_with("Here it is")
    fake_ai.latency = 0.8  # longer than the grace period before the placeholder
    await fd.send_message(world["general"], world["alice"], f"{fd.bot_mention} think hard", mentions_bot=True)
    reply = fd.last_sent(world["general"])
    assert reply.contents == ["… thinking", "Here it is"]


async def test_a_long_stream_shows_its_first_words_then_follows(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    fake_ai.reply_with(" ".join(f"word{i}" for i in range(30)))
    fake_ai.stream_delay = 0.05  # words arrive from the start, for about 1.5 s
    await fd.send_message(world["general"], world["alice"], f"{fd.bot_mention} talk", mentions_bot=True)
    reply = fd.last_sent(world["general"])
    assert reply.contents[0].startswith("word0") and reply.contents[0].endswith(CURSOR)
    assert reply.content.endswith("word29") and len(fd.sent(world["general"])) == 1


async def test_the_answer_is_posted_even_if_the_question_was_deleted_meanwhile(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    fake_ai.reply_with("Here you go")
    fake_ai.latency = 0.2  # within the grace period: nothing shows until the answer is complete
    general = world["general"]
    asked = await fd.send_message(general, world["alice"], "q?", mentions_bot=True, settle=False)
    assert asked is not None
    await asyncio.sleep(0.05)
    fd.server.messages[general.id].pop(asked.id)  # Alice deletes her question
    await fd.settle()
    assert fd.last_sent(general).content == "Here you go"


async def test_no_model_call_where_the_bot_cannot_post(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    no_post = {world["guild"].me: discord.PermissionOverwrite(send_messages=False)}
    muted = fd.text_channel(world["guild"], "muted", overwrites=no_post)
    await fd.send_message(muted, world["alice"], f"{fd.bot_mention} hello?", mentions_bot=True)
    assert fd.sent(muted) == [] and fake_ai.requests_to("/chat/completions") == []


async def test_plain_message_without_mention_is_ignored(fd: FakeDiscord, world: dict) -> None:
    await fd.send_message(world["general"], world["alice"], "just talking")
    assert fd.sent(world["general"]) == []


async def test_reply_to_the_bot_continues_the_conversation(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    await fd.send_message(
        world["general"], world["alice"], f"{fd.bot_mention} remember 42", mentions_bot=True
    )
    first = fd.last_sent(world["general"])
    await fd.send_message(world["general"], world["alice"], "what number?", reply_to=first)
    sent = fake_ai.last_request("/chat/completions").json["messages"]
    assert "[Alice] remember 42" in str(sent) and sent[-1]["content"] == "[Alice] what number?"


async def test_dm_every_message_is_a_turn(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    dm = fd.dm_channel(world["alice"])
    await fd.send_message(dm, world["alice"], "hello in private")
    assert fd.last_sent(dm).content == "echo: hello in private"


async def test_a_message_forwarded_into_a_dm_is_the_turn(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    original = await fd.send_message(world["general"], world["mod"], "deploy window is 3pm JST")
    dm = fd.dm_channel(world["alice"])
    await fd.forward_message(dm, world["alice"], original)
    assert fd.last_sent(dm).content == "echo: deploy window is 3pm JST"


async def test_model_output_can_never_ping(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    fake_ai.reply_with(f"@everyone look <@{world['alice'].id}> <@&{world['guild'].id}>")
    await fd.send_message(world["general"], world["alice"], f"{fd.bot_mention} ping all", mentions_bot=True)
    reply = fd.last_sent(world["general"])
    assert "@everyone" in reply.content
    assert not reply.pings_anyone
    assert (
        reply.allowed_mentions == {"parse": [], "replied_user": False}
        or reply.allowed_mentions["parse"] == []
    )


async def test_long_answer_continues_in_more_messages(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    code = "\n".join(f"print({i})  # a line of code" for i in range(60))
    fake_ai.reply_with(("Intro paragraph. " * 150) + f"\n```python\n{code}\n```\nThe end.")
    await fd.send_message(
        world["general"], world["alice"], f"{fd.bot_mention} long please", mentions_bot=True
    )
    sent = fd.sent(world["general"])
    assert len(sent) >= 2 and all(len(m.content) <= 2000 for m in sent)
    assert all(m.content.count("```") % 2 == 0 for m in sent)
    assert sent[-1].content.endswith("The end.")


async def test_very_long_code_is_sent_as_a_file(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    code = "\n".join(f"const value{i} = compute({i});" for i in range(200))
    fake_ai.reply_with(f"Here you go:\n```typescript\n{code}\n```")
    await fd.send_message(world["general"], world["alice"], f"{fd.bot_mention} code", mentions_bot=True)
    files = [f for m in fd.sent(world["general"]) for f in m.files]
    assert [f.filename for f in files] == ["snippet.ts"]
    assert files[0].text.startswith("const value0")


async def test_provider_failure_replaces_the_placeholder(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI, services
) -> None:
    fake_ai.fail_next("quota")
    await fd.send_message(world["general"], world["alice"], f"{fd.bot_mention} hello?", mentions_bot=True)
    reply = fd.last_sent(world["general"])
    assert len(reply.contents) == 1 and "out of quota" in reply.content  # never a "thinking" flash
    assert [t.content for t in await services.store.all_turns(world["general"].id)] == ["[Alice] hello?"]


async def test_a_slow_failure_replaces_the_placeholder(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    fake_ai.latency = 0.8
    fake_ai.fail_next("quota")
    await fd.send_message(world["general"], world["alice"], f"{fd.bot_mention} hello?", mentions_bot=True)
    reply = fd.last_sent(world["general"])
    assert reply.contents[0] == "… thinking" and "out of quota" in reply.content
    assert len(fd.sent(world["general"])) == 1


async def test_unexpected_error_gives_an_error_id(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    def explode(request: dict) -> str:
        raise RuntimeError("boom")

    fake_ai.reply_with(explode)
    await fd.send_message(world["general"], world["alice"], f"{fd.bot_mention} hi", mentions_bot=True)
    content = fd.last_sent(world["general"]).content
    assert "thinking" not in content and ("error" in content.lower() or "provider" in content.lower())


async def test_slash_chat_shares_the_channel_memory(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    await fd.send_message(
        world["general"], world["alice"], f"{fd.bot_mention} my name is Alice", mentions_bot=True
    )
    rec = await fd.slash(
        "chat", {"message": "what is my name?"}, user=world["alice"], channel=world["general"]
    )
    assert rec.deferred
    assert rec.original.content == "echo: [Alice] what is my name?"
    assert "[Alice] my name is Alice" in str(fake_ai.last_request("/chat/completions").json["messages"])


async def test_channels_do_not_share_memory(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    await fd.send_message(
        world["general"], world["alice"], f"{fd.bot_mention} code word apple", mentions_bot=True
    )
    await fd.send_message(
        world["random"], world["alice"], f"{fd.bot_mention} what code word?", mentions_bot=True
    )
    assert "apple" not in str(fake_ai.last_request("/chat/completions").json["messages"])


async def test_only_a_mention_gets_a_hint_not_a_model_call(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    await fd.send_message(world["general"], world["alice"], fd.bot_mention, mentions_bot=True)
    assert "Mention me" in fd.last_sent(world["general"]).content
    assert fake_ai.requests_to("/chat/completions") == []


async def test_reset_needs_manage_channels(fd: FakeDiscord, world: dict) -> None:
    rec = await fd.slash("reset", {}, user=world["alice"], channel=world["general"])
    assert rec.ephemeral and "Manage Channels" in rec.last.content


async def test_reset_asks_then_forgets(fd: FakeDiscord, world: dict, services) -> None:
    await fd.send_message(world["general"], world["mod"], f"{fd.bot_mention} hi", mentions_bot=True)
    rec = await fd.slash("reset", {}, user=world["mod"], channel=world["general"])
    assert "can't be undone" in rec.last.content
    await fd.click(rec.last, label="Forget", user=world["mod"])
    assert "forgot 2 messages" in rec.last.content
    assert await services.store.all_turns(world["general"].id) == []


async def test_reset_unanswered_in_time_is_cancelled_and_its_buttons_go(
    fd: FakeDiscord, world: dict, services, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cogs.chat

    monkeypatch.setattr(cogs.chat, "RESET_CONFIRM_TIMEOUT", 0.2)
    await fd.send_message(world["general"], world["mod"], f"{fd.bot_mention} hi", mentions_bot=True)
    rec = await fd.slash("reset", {}, user=world["mod"], channel=world["general"], settle=False)
    await fd.wait_until(lambda: rec.messages and rec.last.content == "Cancelled.", timeout=5)
    assert rec.last.payload.get("components") in (None, [])
    assert len(await services.store.all_turns(world["general"].id)) == 2  # nothing forgotten


async def test_persona_set_show_clear(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    rec = await fd.slash(
        "persona set", {"prompt": "Answer like a pirate."}, user=world["alice"], channel=world["general"]
    )
    assert "Manage Channels" in rec.last.content
    await fd.slash(
        "persona set", {"prompt": "Answer like a pirate."}, user=world["mod"], channel=world["general"]
    )
    shown = await fd.slash("persona show", {}, user=world["alice"], channel=world["general"])
    assert "Answer like a pirate." in shown.last.content
    await fd.send_message(world["general"], world["alice"], f"{fd.bot_mention} hi", mentions_bot=True)
    assert "pirate" in fake_ai.last_request("/chat/completions").json["messages"][0]["content"]
    await fd.slash("persona clear", {}, user=world["mod"], channel=world["general"])
    shown = await fd.slash("persona show", {}, user=world["alice"], channel=world["general"])
    assert "No persona" in shown.last.content


async def test_chat_option_limit_is_enforced_by_discord(fd: FakeDiscord, world: dict) -> None:
    with pytest.raises(DiscordWouldRefuse):
        await fd.slash("chat", {"message": "x" * 4001}, user=world["alice"], channel=world["general"])


async def test_threads_have_their_own_memory(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI, services
) -> None:
    thread = fd.thread(world["general"], "side topic")
    await fd.send_message(thread, world["alice"], f"{fd.bot_mention} in the thread", mentions_bot=True)
    assert fd.last_sent(thread).content == "echo: [Alice] in the thread"
    store: Store = services.store
    assert await store.all_turns(world["general"].id) == []


async def test_streaming_edits_at_most_about_once_a_second(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    fake_ai.reply_with(" ".join(f"word{i}" for i in range(40)))
    fake_ai.stream_delay = 0.05  # about two seconds of streaming
    await fd.send_message(world["general"], world["alice"], f"{fd.bot_mention} talk", mentions_bot=True)
    reply = fd.last_sent(world["general"])
    assert reply.content.endswith("word39")
    assert 2 <= len(reply.contents) <= 5  # placeholder, a couple of live edits, the final text


async def test_slash_chat_with_only_invisible_characters_is_refused(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    rec = await fd.slash("chat", {"message": "\u200b\u200b "}, user=world["alice"], channel=world["general"])
    assert rec.ephemeral and "empty" in rec.last.content
    assert fake_ai.requests_to("/chat/completions") == []


async def test_without_read_message_history_the_answer_is_posted_plain_not_lost(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    # Discord refuses a bot's reply (a message_reference) without Read Message History.
    no_history = {world["guild"].me: discord.PermissionOverwrite(read_message_history=False)}
    quiet = fd.text_channel(world["guild"], "no-history", overwrites=no_history)
    await fd.send_message(quiet, world["alice"], f"{fd.bot_mention} hello?", mentions_bot=True)
    answer = fd.last_sent(quiet)
    assert answer.content == "echo: [Alice] hello?"
    assert "message_reference" not in answer.payload
    await fd.send_message(world["general"], world["alice"], f"{fd.bot_mention} hi", mentions_bot=True)
    assert fd.last_sent(world["general"]).payload["message_reference"]  # a reply where it may
