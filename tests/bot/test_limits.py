"""Budgets and rate limits: token bucket, daily/monthly budgets and images, on a controlled clock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from bot.errors import UserError
from bot.limits import Limits, TokenBucket, day_start, month_start, next_month
from bot.permissions import Caller
from bot.server_settings import GuildFacts, ServerSettings
from bot.store import Store, UsageRecord
from tests.conftest import make_settings

GUILD, OTHER_GUILD = 1000, 2000
ANN, BOB = 11, 12
NOON = datetime(2030, 1, 15, 12, 0, tzinfo=UTC).timestamp()


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(NOON)


@pytest.fixture
def server(store: Store, settings) -> ServerSettings:
    return ServerSettings(store, settings)


@pytest.fixture
def limits(store: Store, server: ServerSettings, clock: Clock) -> Limits:
    return Limits(store, server, now=clock)


async def configure(server: ServerSettings, **values: str) -> None:
    for key, value in values.items():
        await server.set(GUILD, key, value, GuildFacts(), user_id=1, user_name="Admin")


async def spend(
    limits: Limits, at: float, *, tokens: int = 0, images: int = 0, user: int = ANN, guild: int | None = GUILD
) -> None:
    """Usage as the bot records it: through the ledger the budgets read."""
    half = tokens // 2
    record = UsageRecord(guild, user, "chat", "gpt-4o-mini", half, tokens - half, images)
    await limits.ledger.record(record, at=at)


def ann(guild: int | None = GUILD) -> Caller:
    return Caller(guild, ANN)


def test_calendar_boundaries_are_utc() -> None:
    assert day_start(NOON) == datetime(2030, 1, 15, tzinfo=UTC).timestamp()
    assert month_start(NOON) == datetime(2030, 1, 1, tzinfo=UTC).timestamp()
    assert next_month(NOON) == datetime(2030, 2, 1, tzinfo=UTC).timestamp()
    new_year = datetime(2031, 1, 1, tzinfo=UTC).timestamp()
    assert next_month(datetime(2030, 12, 31, 23, tzinfo=UTC).timestamp()) == new_year


def test_token_bucket_refills_evenly_over_a_minute() -> None:
    bucket = TokenBucket(capacity=3, level=3.0, updated=0.0)
    assert [bucket.take(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(0.0) == pytest.approx(20.0)  # 3 a minute: one every 20 s
    assert bucket.take(10.0) == pytest.approx(10.0)
    assert bucket.take(20.0) == 0.0
    assert bucket.take(1000.0) == 0.0 and bucket.level == pytest.approx(2.0)  # never above capacity


async def test_user_requests_per_minute(limits: Limits, server: ServerSettings, clock: Clock) -> None:
    await configure(server, user_requests_per_minute="2", server_requests_per_minute="unlimited")
    await limits.admit("chat", ann())
    await limits.admit("chat", ann())
    with pytest.raises(UserError) as refused:
        await limits.admit("chat", ann())
    assert refused.value.kind == "rate_limited"
    assert "You are over the limit of 2 requests a minute" in refused.value.message
    assert "Try again in 30 seconds" in refused.value.message
    await limits.admit("chat", Caller(GUILD, BOB))  # someone else is not held up
    clock.now += 30
    await limits.admit("chat", ann())


async def test_server_requests_per_minute_counts_everyone(
    limits: Limits, server: ServerSettings, clock: Clock
) -> None:
    await configure(server, user_requests_per_minute="1", server_requests_per_minute="2")
    await limits.admit("chat", Caller(GUILD, 1))
    await limits.admit("chat", Caller(GUILD, 2))
    with pytest.raises(UserError) as refused:
        await limits.admit("chat", Caller(GUILD, 3))
    assert refused.value.kind == "rate_limited" and "This server is over the limit" in refused.value.message
    clock.now += 30
    await limits.admit("chat", Caller(GUILD, 3))  # the refusal did not use up user 3's own request


async def test_daily_token_budget_resets_at_midnight_utc(
    limits: Limits, server: ServerSettings, store: Store, clock: Clock
) -> None:
    await configure(server, user_tokens_per_day="100")
    await spend(limits, NOON - 3600, tokens=60)
    await limits.admit("chat", ann())  # 60 of 100: still room
    await spend(limits, NOON - 60, tokens=40)
    with pytest.raises(UserError) as refused:
        await limits.admit("chat", ann())
    midnight = int(day_start(NOON) + 86400)
    assert refused.value.kind == "budget"
    assert "You've used your daily token budget (100 tokens)" in refused.value.message
    assert f"resets <t:{midnight}:R>" in refused.value.message
    assert refused.value.retry_after == pytest.approx(midnight - NOON)
    clock.now = midnight + 1
    await limits.admit("chat", ann())


async def test_yesterdays_tokens_do_not_count_today(
    limits: Limits, server: ServerSettings, store: Store
) -> None:
    await configure(server, user_tokens_per_day="100")
    await spend(limits, day_start(NOON) - 1, tokens=500)
    await limits.admit("chat", ann())


async def test_monthly_token_budget_resets_on_the_first(
    limits: Limits, server: ServerSettings, store: Store, clock: Clock
) -> None:
    await configure(server, user_tokens_per_day="unlimited", user_tokens_per_month="1000")
    await spend(limits, datetime(2030, 1, 3, tzinfo=UTC).timestamp(), tokens=1000)
    with pytest.raises(UserError) as refused:
        await limits.admit("chat", ann())
    first = int(datetime(2030, 2, 1, tzinfo=UTC).timestamp())
    assert "monthly token budget (1,000 tokens)" in refused.value.message
    assert f"<t:{first}:R>" in refused.value.message
    clock.now = first
    await limits.admit("chat", ann())


async def test_server_token_budget_counts_every_member(
    limits: Limits, server: ServerSettings, store: Store
) -> None:
    await configure(server, server_tokens_per_day="300")
    for user in (1, 2, 3):
        await spend(limits, NOON - 10, tokens=100, user=user)
    with pytest.raises(UserError) as refused:
        await limits.admit("chat", Caller(GUILD, 4))
    assert "This server has used its daily token budget (300 tokens)" in refused.value.message


async def test_usage_in_another_server_is_not_counted_here(
    limits: Limits, server: ServerSettings, store: Store
) -> None:
    await configure(server, user_tokens_per_day="100", server_tokens_per_day="100")
    await spend(limits, NOON - 10, tokens=5000, guild=OTHER_GUILD)
    await spend(limits, NOON - 10, tokens=5000, guild=None)
    await limits.admit("chat", ann())


async def test_images_per_day_counts_what_is_asked_for(
    limits: Limits, server: ServerSettings, store: Store
) -> None:
    await configure(server, user_images_per_day="3")
    await spend(limits, NOON - 10, images=2)
    await limits.admit("images", ann(), images=1)
    with pytest.raises(UserError) as refused:
        await limits.admit("images", ann(), images=2)
    assert refused.value.kind == "budget"
    assert "your daily image limit (3 a day: 1 left, 2 asked for)" in refused.value.message
    await limits.admit("chat", ann())  # the image limit does not stop chat


async def test_server_image_limit(limits: Limits, server: ServerSettings, store: Store) -> None:
    await configure(server, server_images_per_day="4")
    await spend(limits, NOON - 10, images=4, user=BOB)
    with pytest.raises(UserError) as refused:
        await limits.admit("images", ann(), images=1)
    assert "this server's daily image limit" in refused.value.message


async def test_dms_use_the_environment_defaults(tmp_path, fake_ai, clock: Clock) -> None:
    settings = make_settings(tmp_path / "dm", fake_ai.base_url, user_tokens_per_day=50)
    store = await Store(settings.database_path).open()
    try:
        limits = Limits(store, ServerSettings(store, settings), now=clock)
        await spend(limits, NOON - 10, tokens=50, guild=None)
        with pytest.raises(UserError) as refused:
            await limits.admit("chat", ann(None))
        assert "daily token budget (50 tokens)" in refused.value.message
        await limits.admit("chat", ann(GUILD))  # the DM usage is not this server's
    finally:
        await store.close()


async def test_role_gate_comes_first_and_names_the_roles(limits: Limits, server: ServerSettings) -> None:
    facts = GuildFacts(roles={77: "Designers", 78: "Leads"})
    await server.set(GUILD, "images_roles", "Designers, Leads", facts, user_id=1, user_name="Admin")
    with pytest.raises(UserError) as refused:
        await limits.admit("images", ann(), role_names=dict(facts.roles), images=1)
    assert refused.value.kind == "forbidden"
    assert "Making images is limited to @Designers, @Leads" in refused.value.message
    await limits.admit("images", Caller(GUILD, ANN, frozenset({78})), images=1)
    await limits.admit("chat", ann())  # other features stay open


async def test_budget_checks_read_the_database_once_then_count_in_memory(
    limits: Limits, server: ServerSettings, store: Store, clock: Clock
) -> None:
    await configure(server, user_tokens_per_day="100")
    await spend(limits, NOON - 60, tokens=60)
    reads: list[str] = []
    await store.db.run(lambda conn: conn.set_trace_callback(reads.append))
    for _ in range(3):
        await limits.admit("chat", ann())
    assert sum("FROM usage" in sql for sql in reads) == 2  # the user's and the server's, once each
    await spend(limits, NOON - 30, tokens=40)  # counted in memory: the next check refuses
    with pytest.raises(UserError):
        await limits.admit("chat", ann())


async def test_usage_recorded_elsewhere_counts_once_the_ledger_rereads(
    limits: Limits, server: ServerSettings, store: Store, clock: Clock
) -> None:
    await configure(server, user_tokens_per_day="100")
    await limits.admit("chat", ann())
    await store.record_usage(UsageRecord(GUILD, ANN, "ask", "m", 100, 0, 0), at=NOON)  # e.g. `teambot ask`
    clock.now += limits.ledger.ttl + 1
    with pytest.raises(UserError):
        await limits.admit("chat", ann())


async def test_usage_recorded_while_the_ledger_reads_is_counted_exactly_once(
    limits: Limits, server: ServerSettings, store: Store
) -> None:
    await configure(server, user_tokens_per_day="1000")
    record = UsageRecord(GUILD, ANN, "chat", "m", 50, 50, 0)
    # Both start together: the usage row lands while (or just before) the totals are summed.
    await asyncio.gather(limits.admit("chat", ann()), limits.ledger.record(record, at=NOON))
    budget = await limits.budget(GUILD, ANN, await server.config(GUILD), NOON)
    assert budget.today.tokens == 100
