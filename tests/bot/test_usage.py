"""Usage figures from the provider's counts, the /usage report, the 30-day chart; permissions in the core."""

from __future__ import annotations

import io
import time
from datetime import UTC, datetime

import pytest
from PIL import Image

from bot.errors import UserError
from bot.limits import DAY, Limits, day_start
from bot.llm import LLM, Who
from bot.permissions import Caller, can_use, guild_allowed, require_feature, require_manage_guild
from bot.server_settings import GuildFacts, ServerSettings
from bot.store import DocumentRecord, Store, UsageRecord
from bot.usage import _BACKGROUND, _IN, CHART_DAYS, CHART_SIZE, render_chart, usage_report
from tests.fakes.openai_server import FakeOpenAI

GUILD, ANN, BOB = 1000, 11, 12
NOON = datetime(2030, 1, 15, 12, 0, tzinfo=UTC).timestamp()


def limits_at(store: Store, settings, now: float) -> Limits:
    return Limits(store, ServerSettings(store, settings), now=lambda: now)


async def add_doc(store: Store, doc_id: str, uploader: int, created_at: float) -> None:
    await store.add_document(
        DocumentRecord(
            doc_id, str(GUILD), "server", f"server:{GUILD}", GUILD, None, f"{doc_id}.md", "md", 10, doc_id,
            None, 1, uploader, "someone", "indexing", created_at,
        )
    )
    await store.finish_document(doc_id, 1, [])


async def test_usage_is_what_the_provider_reported(
    store: Store, settings, llm: LLM, fake_ai: FakeOpenAI
) -> None:
    fake_ai.reply_with("alpha beta")
    messages = [{"role": "user", "content": "one two three"}]
    await llm.complete(messages, who=Who(GUILD, ANN, "chat"))  # the fake counts words: 3 in, 2 out
    async for _ in llm.stream_chat(messages, who=Who(GUILD, BOB, "chat")):
        pass
    await llm.generate_images("a fox", who=Who(GUILD, ANN, "images"), size="1024x1024", n=2)
    report = await usage_report(limits_at(store, settings, time.time()), GUILD, ANN)
    today = report.user.budget.today
    assert (today.tokens_in, today.tokens_out, today.images) == (3, 2, 2)
    assert report.user.budget.tokens_left == 200_000 - 5
    assert report.user.budget.images_left == 10 - 2
    server = report.server.budget.today
    assert (server.tokens_in, server.tokens_out, server.images) == (6, 4, 2)
    assert report.user_days[-1].tokens == 5 and report.server_days[-1].tokens == 10


async def test_report_splits_today_month_and_days(store: Store, settings) -> None:
    spent = ((NOON - 60, 100), (day_start(NOON) - 60, 20), (NOON - 20 * DAY, 7), (NOON - 40 * DAY, 1))
    for at, tokens_in in spent:
        await store.record_usage(UsageRecord(GUILD, ANN, "chat", "m", tokens_in, 1, 0), at=at)
    await store.record_usage(UsageRecord(GUILD + 1, ANN, "chat", "m", 999, 0, 0), at=NOON - 60)
    await add_doc(store, "a", ANN, NOON - 60)
    await add_doc(store, "b", BOB, NOON - 5 * DAY)
    report = await usage_report(limits_at(store, settings, NOON), GUILD, ANN)
    assert report.user.budget.today.tokens_in == 100
    assert report.user.budget.month.tokens_in == 120  # Dec 26 is last month; Dec 6 too
    assert (report.user.documents_today, report.user.documents_month) == (1, 1)
    assert (report.server.documents_today, report.server.documents_month) == (1, 2)
    days = [d.tokens_in for d in report.user_days]
    assert len(days) == CHART_DAYS and days[-1] == 100 and days[-2] == 20 and days[-21] == 7
    assert sum(days) == 127  # 40 days ago and the other server are out


async def test_dm_report_has_no_server_side(store: Store, settings) -> None:
    await store.record_usage(UsageRecord(None, ANN, "chat", "m", 4, 4, 0), at=NOON - 60)
    report = await usage_report(limits_at(store, settings, NOON), None, ANN)
    assert report.server is None and report.server_days is None
    assert report.user.budget.today.tokens == 8


async def test_chart_is_a_png_of_the_right_size_with_the_bars(store: Store, settings) -> None:
    await store.record_usage(UsageRecord(GUILD, ANN, "chat", "m", 5000, 1000, 0), at=NOON - 60)
    report = await usage_report(limits_at(store, settings, NOON), GUILD, ANN)
    png = render_chart(report, label="Ann")
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as image:
        image.load()
        assert image.format == "PNG" and image.size == CHART_SIZE
        rgb = image.convert("RGB")
        last_bar_x = CHART_SIZE[0] - 16 - 8  # the middle of the rightmost (today's) bar
        assert rgb.getpixel((last_bar_x, CHART_SIZE[1] - 28 - 3)) == _IN
        first_bar_x = 64 + 8
        assert rgb.getpixel((first_bar_x, CHART_SIZE[1] - 28 - 3)) == _BACKGROUND  # nothing 29 days ago


async def test_empty_chart_is_still_a_png(store: Store, settings) -> None:
    report = await usage_report(limits_at(store, settings, NOON), GUILD, ANN)
    with Image.open(io.BytesIO(render_chart(report))) as image:
        assert image.size == CHART_SIZE


def test_role_gates() -> None:
    assert can_use(Caller(GUILD, ANN), frozenset())  # no roles listed: everyone
    assert not can_use(Caller(GUILD, ANN, frozenset({1})), {2})
    assert can_use(Caller(GUILD, ANN, frozenset({1, 2})), {2})
    assert can_use(Caller(GUILD, ANN, manage_guild=True), {2})  # managers can't lock themselves out
    assert can_use(Caller(None, ANN), {2})  # DMs have no roles to gate on
    with pytest.raises(UserError) as refused:
        require_feature("code", Caller(GUILD, ANN), {2, 3}, {2: "Devs"})
    assert refused.value.kind == "forbidden" and "Code help is limited to @Devs" in refused.value.message


def test_admin_refusal_names_the_permission() -> None:
    require_manage_guild(True, "Changing the server settings")
    with pytest.raises(UserError) as refused:
        require_manage_guild(False, "Changing the server settings")
    assert refused.value.message == "Changing the server settings needs the Manage Server permission."


def test_allow_list() -> None:
    assert guild_allowed(5, frozenset())
    assert guild_allowed(5, frozenset({5, 6}))
    assert not guild_allowed(7, frozenset({5, 6}))


def test_facts_default_to_nothing_known() -> None:
    assert GuildFacts().roles == {} and GuildFacts().channels == {}
