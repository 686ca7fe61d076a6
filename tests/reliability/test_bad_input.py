"""Hostile and broken uploads through /docs add, and strange text: each gets its message, the bot stays up,
refused files leave the database and the index as they were, and nothing pings anyone."""

from __future__ import annotations

import re
import sqlite3
import unicodedata
from collections.abc import Awaitable, Callable
from pathlib import Path

import discord
import pytest

from bot.services import Services
from index.library import Where
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI, message_text
from tests.reliability.conftest import everything_shown, final_text, leaked_secrets
from tests.reliability.corpus import CORPUS, IMAGE_BOMB, Upload


@pytest.fixture
def world(rfd: FakeDiscord) -> dict:
    guild = rfd.guild("Team")
    return {
        "guild": guild,
        "general": rfd.text_channel(guild, "general"),
        "alice": rfd.member(guild, "alice", display_name="Alice"),
        "bob": rfd.member(guild, "bob", display_name="Bob"),
    }


async def snapshot(services: Services) -> tuple[object, ...]:
    """Everything an upload could change: document and turn rows, chunks, keyword entries, files."""
    async with services.store.db.execute("SELECT * FROM documents ORDER BY id") as cur:
        documents = [tuple(row) for row in await cur.fetchall()]
    async with services.store.db.execute("SELECT count(*), max(id) FROM turns") as cur:
        turns = tuple(await cur.fetchone())
    index = sqlite3.connect(services.vectors.path)
    try:
        chunks = index.execute("SELECT count(*), max(id) FROM chunks").fetchone()
        keywords = index.execute("SELECT count(*) FROM chunks_fts").fetchone()
    finally:
        index.close()
    data_dir = services.settings.data_dir
    files = sorted(
        str(p.relative_to(data_dir)) for p in data_dir.rglob("*") if not p.name.endswith(("-wal", "-shm"))
    )
    return documents, turns, chunks, keywords, files


def stored_text(services: Services, doc_id: str, shard: str, scope: str) -> str:
    """All chunk text of one document, from the index itself."""
    index = sqlite3.connect(services.vectors.path)
    try:
        rows = index.execute(
            "SELECT text FROM chunks WHERE doc_id = ? AND shard = ? AND scope = ? ORDER BY id",
            (doc_id, shard, scope),
        ).fetchall()
    finally:
        index.close()
    return "\n".join(text for (text,) in rows)


async def still_up(fd: FakeDiscord, world: dict, n: int) -> None:
    """The bot still answers a chat turn."""
    await fd.send_message(world["general"], world["bob"], f"still there {n}?", mentions_bot=True)
    assert fd.last_sent(world["general"]).content == f"echo: [Bob] still there {n}?"


@pytest.mark.parametrize("upload", CORPUS, ids=[u.id for u in CORPUS])
async def test_hostile_upload_gets_its_message(
    upload: Upload, rfd: FakeDiscord, world: dict, rservices: Services
) -> None:
    before = await snapshot(rservices)
    data = upload.make()
    rec = await rfd.slash("docs add", {"file": (upload.filename, data)}, user=world["alice"],
                          channel=world["general"])
    shown = final_text(rec)
    docs = await rservices.library.visible(rfd_where(world))
    if upload.refusal is not None:
        assert shown.startswith("⚠️") and upload.refusal in shown, shown
        assert await snapshot(rservices) == before, "a refused upload changed the database or the index"
    else:
        assert "✅" in shown and "indexed" in shown, shown
        (doc,) = docs
        assert doc.name == (upload.stored_name or upload.filename)
        text = stored_text(rservices, doc.id, str(world["guild"].id), f"server:{world['guild'].id}")
        assert upload.text is None or upload.text in text, text[:300]
    for doc in docs:  # names are safe to show and to use as a file name
        assert doc.name == safe_name_check(doc.name)
    if len(data) > rservices.settings.max_upload_bytes:  # refused before it was downloaded
        assert not [c for c in rfd.calls if "attachments" in c.path and c.method == "GET"]
    await still_up(rfd, world, 1)
    assert not leaked_secrets(everything_shown(rfd))


def rfd_where(world: dict) -> Where:
    """Where /docs add in #general puts and looks for documents."""
    return Where(world["guild"].id, world["general"].id, world["alice"].id)


def safe_name_check(name: str) -> str:
    """The name, asserted to be a plain file name that stays inside any folder it is joined to."""
    assert "/" not in name and "\\" not in name and not name.startswith(".")
    assert not any(unicodedata.category(ch) in ("Cc", "Cf") for ch in name), repr(name)
    folder = Path("/srv/data")
    assert (folder / name).resolve().parent == folder
    return name


async def test_image_bomb_for_image_edit_is_refused_before_the_provider(
    rfd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    rec = await rfd.slash("image edit", {"image": ("bomb.png", IMAGE_BOMB), "prompt": "add a hat"},
                          user=world["alice"], channel=world["general"])
    assert "too large to work with" in final_text(rec) and "megapixels" in final_text(rec)
    assert not fake_ai.requests_to("/images/edits")
    await still_up(rfd, world, 2)


# --- strange text ----------------------------------------------------------------------------------


def no_pings(fd: FakeDiscord) -> None:
    """Nothing the bot sent notified anyone, and every message it created allowed no mentions."""
    for message in fd.sent(include_deleted=True):
        assert not message.pings_anyone, message.content
        assert message.allowed_mentions is None or not message.allowed_mentions.get("parse"), message.content


async def test_a_4000_character_paste_in_the_code_box(
    rfd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    lines = [f"total_{i} = compute({i}) + offset  # step {i}" for i in range(200)]
    whole = "\n".join(lines)
    code = whole[:4000]  # what the 4000-character modal box lets through
    assert len(code) == 4000 and len(whole) > 4000
    last = code.rsplit("\n", 1)[1]  # the last (partial) line of the paste
    cut = whole[4000:].split("\n", 2)[1]  # the first whole line the box cut off
    assert last and cut and cut not in code
    answer = "This code sums compute() results step by step (mkcodeanswer)."
    fake_ai.reply_with(answer)
    await rfd.slash("code explain", {}, user=world["alice"], channel=world["general"])
    rec = await rfd.submit_modal({"Code": code})
    requests = fake_ai.requests_to("/chat/completions")
    assert len(requests) == 1, len(requests)
    prompt = "\n".join(message_text(m.get("content")) for m in requests[0].json["messages"])
    # The code goes with line numbers ("94 | code"); without them it must be the paste, all 4000 characters.
    sent = re.sub(r"(?m)^ *\d+ \| ", "", prompt)
    assert code in sent, "the model did not get the whole 4000-character paste"
    assert f"{len(code.splitlines())} | {last}\n" in prompt, "the paste's last line is not the last one sent"
    assert cut not in prompt and code[-100:] in sent, "the model got more or less than the paste"
    shown = final_text(rec) + "".join(f.data.decode() for m in rec.messages for f in m.files)
    assert not shown.startswith("⚠️") and "mkcodeanswer" in shown, shown[:300]
    no_pings(rfd)


async def test_a_4000_character_chat_message(rfd: FakeDiscord, world: dict, rservices: Services) -> None:
    message = ("word " * 800)[:4000]
    await rfd.slash("chat", {"message": message}, user=world["alice"], channel=world["general"])
    turns = await rservices.store.all_turns(world["general"].id)
    assert turns[0].content == f"[Alice] {message.strip()}" and turns[1].role == "assistant"
    assert all(len(m.content) <= 2000 for m in rfd.sent())


async def test_a_message_of_only_mentions(rfd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    role = rfd.role(world["guild"], "oncall", discord.Permissions.none())
    text = f"{rfd.bot_mention} <@{world['alice'].id}> <@{world['bob'].id}> <@&{role.id}>"
    await rfd.send_message(world["general"], world["alice"], text)
    asked = fake_ai.last_request("/chat/completions").json["messages"][-1]["content"]
    assert asked == "[Alice] @Alice @Bob @oncall"
    no_pings(rfd)


@pytest.mark.parametrize("invisible", ["\u200b", "\u200b\u200c\u200d\u2060\ufeff", " \u200b \u2060 "])
async def test_only_zero_width_characters_get_the_hint(
    invisible: str, rfd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    await rfd.send_message(world["general"], world["alice"], invisible, mentions_bot=True)
    assert "Mention me with a question" in rfd.last_sent(world["general"]).content
    assert not fake_ai.requests_to("/chat/completions")


async def test_zero_width_characters_inside_text_are_kept(rfd: FakeDiscord, world: dict) -> None:
    await rfd.send_message(world["general"], world["alice"], "ze\u200bro wi\u200dth", mentions_bot=True)
    assert rfd.last_sent(world["general"]).content == "echo: [Alice] ze\u200bro wi\u200dth"


PING_ALL = "@everyone @here look <@{user}> and <@&{role}> and <@!{user}>"


@pytest.mark.parametrize("where", ["mention", "chat", "ask", "code", "imagine"])
async def test_the_model_asked_to_ping_everyone_pings_no_one(
    where: str, rfd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    role = rfd.role(world["guild"], "staff", discord.Permissions.none())
    ping = PING_ALL.format(user=world["bob"].id, role=role.id)
    fake_ai.reply_with(ping)
    alice, general = world["alice"], world["general"]
    prompt = f"please ping @everyone and {ping}"
    run: dict[str, Callable[[], Awaitable[object]]] = {
        "mention": lambda: rfd.send_message(general, alice, prompt, mentions_bot=True),
        "chat": lambda: rfd.slash("chat", {"message": prompt}, user=alice, channel=general),
        "ask": lambda: rfd.slash("ask", {"question": prompt}, user=alice, channel=general),
        "code": lambda: rfd.slash("code explain", {"code": f"x = '{prompt}'"}, user=alice, channel=general),
        "imagine": lambda: rfd.slash("imagine", {"prompt": prompt}, user=alice, channel=general),
    }
    if where == "ask":
        await rfd.slash("docs add", {"file": ("ping.md", f"# Ping\n\n{ping} please".encode())},
                        user=alice, channel=general)
    await run[where]()
    assert any("@everyone" in text for text in everything_shown(rfd)), "the test sent no ping text"
    no_pings(rfd)
