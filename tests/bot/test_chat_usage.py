"""A chat answer and what it cost are stored together (one trip, one transaction) and counted once."""

from __future__ import annotations

import sqlite3
import time

import pytest

from bot.chat import TurnIn
from bot.errors import UserError
from bot.services import Services
from bot.store import NewTurn, Store, UsageRecord
from tests.fakes.openai_server import FakeOpenAI


def turn(text: str, channel: int = 100) -> TurnIn:
    return TurnIn(channel_id=channel, guild_id=1, author_id=7, author_name="Ann", content=text)


async def chat_rows(store: Store) -> list[tuple]:
    async with store.db.execute("SELECT feature, tokens_in, tokens_out FROM usage ORDER BY id") as cur:
        return [tuple(row) for row in await cur.fetchall()]


async def test_an_answer_stores_its_usage_once_and_the_budget_counts_it_once(services: Services) -> None:
    ledger = services.limits.ledger
    before_user, _ = await ledger.totals(1, 7, time.time())  # a tally in memory, kept current from now on
    before_server, _ = await ledger.totals(1, None, time.time())
    reply = await services.chat.reply(turn("hello"))
    assert reply.text == "echo: [Ann] hello"
    rows = await chat_rows(services.store)
    assert len(rows) == 1 and rows[0][0] == "chat" and rows[0][1] > 0 and rows[0][2] > 0
    spent = rows[0][1] + rows[0][2]
    after_user, _ = await ledger.totals(1, 7, time.time())
    after_server, _ = await ledger.totals(1, None, time.time())
    assert after_user.tokens - before_user.tokens == spent
    assert after_server.tokens - before_server.tokens == spent
    stored = await services.store.all_turns(100)
    assert [t.role for t in stored] == ["user", "assistant"] and stored[1].content == reply.text


async def test_a_failed_answer_still_records_what_the_model_used(
    services: Services, fake_ai: FakeOpenAI
) -> None:
    fake_ai.reply_with("")
    with pytest.raises(UserError) as caught:
        await services.chat.reply(turn("hello"))
    assert caught.value.kind == "empty_answer"
    rows = await chat_rows(services.store)
    assert len(rows) == 1 and rows[0][1] > 0  # the prompt was read and is paid for
    assert [t.role for t in await services.store.all_turns(100)] == ["user"]  # the user's turn is kept
    fake_ai.reply_with(None)
    assert (await services.chat.reply(turn("again"))).text == "echo: [Ann] again"


async def test_add_reply_stores_both_or_neither(store: Store) -> None:
    answer = NewTurn(5, 1, 0, "teambot", "assistant", "the answer", 4)
    broken = UsageRecord(1, 7, "chat", None, 10, 4, 0)  # type: ignore[arg-type]  # model is NOT NULL
    with pytest.raises(sqlite3.IntegrityError):
        await store.add_reply(answer, broken)
    assert await store.all_turns(5) == [] and await chat_rows(store) == []
    context = await store.open_turn(NewTurn(5, 1, 7, "Ann", "user", "hi", 3), 1000)
    assert [t.content for t in context.recent] == ["hi"]  # the rolled-back answer is not in the window
    turn_id, usage_id, at = await store.add_reply(answer, UsageRecord(1, 7, "chat", "m", 10, 4, 0))
    assert usage_id is not None and abs(at - time.time()) < 60
    assert [t.id for t in await store.all_turns(5)][-1] == turn_id
    assert await chat_rows(store) == [("chat", 10, 4)]
    assert (await store.add_reply(answer, None))[1] is None
