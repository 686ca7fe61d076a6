"""The channels' windows in memory (bot/store/window.py): always what the database would answer."""

from __future__ import annotations

import random
from pathlib import Path

from bot.store import NewTurn, Store


def said(channel: int, content: str, tokens: int = 10, *, author: int = 7, role: str = "user") -> NewTurn:
    return NewTurn(channel, 1, author, f"user{author}", role, content, tokens)


async def answer(store: Store, channel: int, content: str, tokens: int = 10) -> int:
    return await store.add_turn(
        channel_id=channel, guild_id=1, author_id=0, author_name="teambot", role="assistant",
        content=content, tokens=tokens,
    )


async def test_the_window_matches_the_database_through_appends_folds_and_resets(tmp_path: Path) -> None:
    store = await Store(tmp_path / "db.sqlite3").open()
    rng = random.Random(7)
    budget = 300
    for step in range(600):
        channel = rng.choice((1, 2, 3))
        roll = rng.random()
        if roll < 0.03:
            await store.forget_channel(channel)
            continue
        if roll < 0.08:  # a fold: the summary now covers all but the newest few turns
            turns = await store.all_turns(channel)
            if len(turns) > 4:
                await store.set_summary(channel, 1, f"summary {step}", turns[-4].id)
            continue
        if roll < 0.5:
            await answer(store, channel, f"a{step}", rng.randint(1, 80))
            continue
        opened = await store.open_turn(said(channel, f"u{step}", rng.randint(1, 120)), budget)
        upto = opened.state.summary_upto
        assert opened.recent == await store.recent_turns(channel, budget, after=upto), step
        assert opened.pending_tokens == await store.unsummarized_tokens(channel, upto), step
    await store.close()


async def test_a_kept_window_answers_without_reading_the_history(tmp_path: Path) -> None:
    store = await Store(tmp_path / "db.sqlite3").open()
    for i in range(20):
        await store.open_turn(said(5, f"m{i}"), budget=1000)
    statements: list[str] = []
    await store.db.run(lambda conn: conn.set_trace_callback(statements.append))
    opened = await store.open_turn(said(5, "the newest"), budget=1000)
    assert [t.content for t in opened.recent] == [*(f"m{i}" for i in range(20)), "the newest"]
    assert not [s for s in statements if "ORDER BY id DESC" in s or "SUM(tokens)" in s]
    statements.clear()
    await store.open_turn(said(5, "with a smaller budget"), budget=50)  # another budget: read again
    assert [s for s in statements if "ORDER BY id DESC" in s]
    await store.close()


async def test_forget_me_leaves_no_turn_of_the_user_in_any_window(tmp_path: Path) -> None:
    store = await Store(tmp_path / "db.sqlite3").open()
    for i in range(5):
        await store.open_turn(said(1, f"ann secret {i}", author=7), budget=1000)
        await answer(store, 1, f"reply to ann {i}")
        await store.open_turn(said(1, f"bob says {i}", author=8), budget=1000)
    await store.forget_user(7)
    opened = await store.open_turn(said(1, "bob again", author=8), budget=1000)
    contents = [t.content for t in opened.recent]
    assert not [c for c in contents if "ann" in c]
    assert contents == [*(f"bob says {i}" for i in range(5)), "bob again"]
    assert opened.pending_tokens == 6 * 10
    await store.close()


async def test_a_purge_from_another_process_reaches_the_running_bots_windows(tmp_path: Path) -> None:
    bot = await Store(tmp_path / "db.sqlite3").open()
    await bot.open_turn(said(1, "ann secret", author=7), budget=1000)
    await bot.open_turn(said(1, "bob says hi", author=8), budget=1000)
    purge = await Store(tmp_path / "db.sqlite3").open()  # `teambot purge --user 7`: its own connection
    await purge.forget_user(7)
    await purge.close()
    opened = await bot.open_turn(said(1, "bob again", author=8), budget=1000)
    assert [t.content for t in opened.recent] == ["bob says hi", "bob again"]
    await bot.close()


async def test_reset_and_bulk_imports_show_in_the_next_turn(tmp_path: Path) -> None:
    store = await Store(tmp_path / "db.sqlite3").open()
    await store.open_turn(said(1, "before the reset"), budget=1000)
    assert await store.forget_channel(1) == 1
    opened = await store.open_turn(said(1, "after the reset"), budget=1000)
    assert [t.content for t in opened.recent] == ["after the reset"]
    await store.bulk_add_turns([(1, 1, 7, "user7", "user", "imported", 10)])
    opened = await store.open_turn(said(1, "after the import"), budget=1000)
    assert [t.content for t in opened.recent] == ["after the reset", "imported", "after the import"]
    await store.close()


async def test_a_turn_larger_than_the_budget_leaves_the_window_empty(tmp_path: Path) -> None:
    store = await Store(tmp_path / "db.sqlite3").open()
    await store.open_turn(said(1, "short"), budget=100)
    opened = await store.open_turn(said(1, "huge", tokens=500), budget=100)
    assert opened.recent == [] and opened.pending_tokens == 510
    opened = await store.open_turn(said(1, "short again"), budget=100)
    assert [t.content for t in opened.recent] == ["short again"]  # the huge one ends the window
    await store.close()
