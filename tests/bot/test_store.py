"""Store: migrations, WAL, turns within a budget, isolation and restarts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import aiosqlite
import pytest

from bot.store import DocumentRecord, NewTurn, Store, UsageRecord, migration_scripts


async def add(store: Store, channel: int, content: str, tokens: int = 10, guild: int | None = 1) -> int:
    return await store.add_turn(
        channel_id=channel,
        guild_id=guild,
        author_id=7,
        author_name="Ann",
        role="user",
        content=content,
        tokens=tokens,
    )


async def test_migrations_apply_once_and_set_user_version(tmp_path: Path) -> None:
    store = await Store(tmp_path / "db.sqlite3").open()
    latest = migration_scripts()[-1][0]
    assert await store.schema_version() == latest
    await store.close()
    again = await Store(tmp_path / "db.sqlite3").open()  # a second open must not re-run migrations
    assert await again.schema_version() == latest
    assert await again.integrity_ok()
    await again.close()


async def test_database_uses_wal(tmp_path: Path) -> None:
    store = await Store(tmp_path / "db.sqlite3").open()
    async with store.db.execute("PRAGMA journal_mode") as cur:
        assert (await cur.fetchone())[0] == "wal"
    await store.close()


async def test_failed_migration_leaves_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with aiosqlite.connect(path, isolation_level=None) as db:
        await db.execute("CREATE TABLE turns (x)")  # makes 0001 fail half-way
    store = Store(path)
    with pytest.raises(aiosqlite.OperationalError):
        await store.open()
    async with aiosqlite.connect(path) as db:
        async with db.execute("PRAGMA user_version") as cur:
            assert (await cur.fetchone())[0] == 0
        async with db.execute("SELECT name FROM sqlite_master WHERE name = 'meta'") as cur:
            assert await cur.fetchone() is None
    await store.close()


async def test_recent_turns_fit_the_budget_oldest_first(tmp_path: Path) -> None:
    store = await Store(tmp_path / "db.sqlite3").open()
    for i in range(300):
        await add(store, 5, f"m{i}", tokens=10)
    turns = await store.recent_turns(5, budget=1000)
    assert [t.content for t in turns] == [f"m{i}" for i in range(200, 300)]
    after = turns[50].id
    assert (await store.recent_turns(5, 10_000, after=after))[0].content == "m251"
    await store.close()


async def test_open_turn_stores_the_turn_and_reads_its_context_in_one_trip(tmp_path: Path) -> None:
    store = await Store(tmp_path / "db.sqlite3").open()
    for i in range(30):
        await add(store, 5, f"m{i}", tokens=10)
    await add(store, 6, "another channel", tokens=10)
    await store.set_summary(5, 1, "earlier talk", upto=(await store.all_turns(5))[9].id)  # m0..m9 folded
    await store.set_persona(5, 1, "be brief")
    trips: list[str] = []
    await store.db.run(lambda conn: conn.set_trace_callback(trips.append))
    calls = 0
    run = store.db.run

    async def counted(*args: object) -> object:
        nonlocal calls
        calls += 1
        return await run(*args)

    store.db.run = counted  # type: ignore[method-assign]
    opened = await store.open_turn(NewTurn(5, 1, 7, "Ann", "user", "the new one", 10, 99), budget=100)
    assert calls == 1 and len(trips) >= 3  # insert, state, pending, recent: one trip to the thread
    assert opened.state.persona == "be brief" and opened.state.summary == "earlier talk"
    assert opened.pending_tokens == 21 * 10  # m10..m29 and the new turn
    assert [t.content for t in opened.recent] == [*(f"m{i}" for i in range(21, 30)), "the new one"]
    assert opened.recent[-1].id == opened.turn_id
    await store.close()


async def test_channels_never_share_turns(tmp_path: Path) -> None:
    store = await Store(tmp_path / "db.sqlite3").open()
    await add(store, 1, "alpha", guild=10)
    await add(store, 2, "beta", guild=10)
    await add(store, 3, "gamma", guild=20)
    assert [t.content for t in await store.recent_turns(1, 10_000)] == ["alpha"]
    assert [t.content for t in await store.recent_turns(3, 10_000)] == ["gamma"]
    await store.close()


async def test_memory_survives_restart(tmp_path: Path) -> None:
    store = await Store(tmp_path / "db.sqlite3").open()
    await add(store, 1, "remember me")
    await store.set_persona(1, 10, "be brief")
    await store.close()
    reopened = await Store(tmp_path / "db.sqlite3").open()
    assert [t.content for t in await reopened.all_turns(1)] == ["remember me"]
    assert (await reopened.channel_state(1)).persona == "be brief"
    await reopened.close()


async def test_forget_channel_keeps_persona_and_other_channels(tmp_path: Path) -> None:
    store = await Store(tmp_path / "db.sqlite3").open()
    await add(store, 1, "a")
    await add(store, 2, "b")
    await store.set_persona(1, 10, "pirate")
    await store.set_summary(1, 10, "old stuff", 1)
    assert await store.forget_channel(1) == 1
    state = await store.channel_state(1)
    assert state.summary == "" and state.summary_upto == 0 and state.persona == "pirate"
    assert len(await store.all_turns(2)) == 1
    await store.close()


async def test_usage_totals_by_user_and_guild(tmp_path: Path) -> None:
    store = await Store(tmp_path / "db.sqlite3").open()
    await store.record_usage(UsageRecord(1, 7, "chat", "m", 10, 5))
    await store.record_usage(UsageRecord(1, 8, "chat", "m", 1, 1))
    await store.record_usage(UsageRecord(2, 7, "image", "i", images=2))
    assert await store.usage_totals(since=0, user_id=7) == (10, 5, 2)
    assert await store.usage_totals(since=0, guild_id=1) == (11, 6, 0)
    await store.close()


def document(doc_id: str, name: str) -> DocumentRecord:
    return DocumentRecord(
        doc_id, "1", "server", "server:1", 1, 2, name, "text", 10, doc_id * 8, None, 0, 7, "Ann", "indexing",
        1.0,
    )


async def test_concurrent_transactions_do_not_collide(tmp_path: Path) -> None:
    store = await Store(tmp_path / "db.sqlite3").open()
    for doc_id in ("a", "b", "c"):
        await store.add_document(document(doc_id, f"{doc_id}.md"))
    await asyncio.gather(*(store.finish_document(d, 3, []) for d in ("a", "b", "c")))
    assert {d.id for d in await store.documents(["server:1"])} == {"a", "b", "c"}
    await store.close()


async def test_a_write_beside_a_failing_transaction_is_not_rolled_back_with_it(tmp_path: Path) -> None:
    store = await Store(tmp_path / "db.sqlite3").open()

    async def failing() -> None:
        async with store.transaction() as db:
            await db.execute("INSERT INTO meta (key, value) VALUES ('half', 'done')")
            await asyncio.sleep(0.05)  # other coroutines write meanwhile
            raise RuntimeError("the second step failed")

    results = await asyncio.gather(failing(), add(store, 5, "acknowledged"), return_exceptions=True)
    assert isinstance(results[0], RuntimeError)
    assert [t.content for t in await store.all_turns(5)] == ["acknowledged"]
    assert await store.get_meta("half") is None
    await store.close()


async def test_a_transaction_cancelled_before_it_began_leaves_none_open(tmp_path: Path) -> None:
    # A statement sent to the database thread runs there even when the coroutine that sent it is cancelled
    # (a shutdown, a timeout): a BEGIN that ran after its coroutine was gone left a transaction open, and
    # every later write failed with "cannot start a transaction within a transaction".
    store = await Store(tmp_path / "db.sqlite3").open()

    async def write() -> None:
        async with store.transaction() as db:
            await db.execute("INSERT INTO meta (key, value) VALUES ('half', 'done')")

    busy = asyncio.create_task(store.db.run(lambda conn: time.sleep(0.2)))  # the thread is busy a moment
    await asyncio.sleep(0.02)
    task = asyncio.create_task(write())
    await asyncio.sleep(0.02)  # its BEGIN is queued behind the busy thread
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    await busy
    await add(store, 5, "still writable")
    await store.finish_document("nope", 0, [])  # a transaction of its own starts fine
    assert [t.content for t in await store.all_turns(5)] == ["still writable"]
    assert await store.get_meta("half") is None
    await store.close()
