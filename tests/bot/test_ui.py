"""LiveReply: streamed text shows through throttled edits, rendered only when an edit shows it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import discord

from bot.ui import CURSOR, LiveReply


class Page:
    """One message the reply posted, as the Discord edge keeps it."""

    def __init__(self, content: str) -> None:
        self.content = content
        self.edits = 0

    async def edit(self, *, content: str, **extra: object) -> None:
        self.content = content
        self.edits += 1

    async def delete(self) -> None:
        self.content = ""


class Target:
    """Where the reply goes: records every message it posts."""

    def __init__(self, grace: float = 0.0) -> None:
        self.grace = grace
        self.pages: list[Page] = []

    async def first(self, content: str, files: Sequence[object] = (), embeds: Sequence[object] = ()) -> Page:
        self.pages.append(Page(content))
        return self.pages[-1]

    async def more(self, content: str, files: Sequence[object] = (), embeds: Sequence[object] = ()) -> Page:
        return await self.first(content)


async def test_streamed_text_is_rendered_once_per_edit_not_once_per_delta() -> None:
    target = Target()
    live = LiveReply(target, interval=0.05)  # type: ignore[arg-type]
    await live.start("…")
    parts: list[str] = []
    renders = 0

    def render() -> str:
        nonlocal renders
        renders += 1
        return "".join(parts)

    for i in range(300):
        parts.append(f"w{i} ")
        live.update(render)
        if i % 100 == 99:
            await asyncio.sleep(0.08)  # an edit falls due
    shown_while_streaming = target.pages[0].content
    await live.finish("".join(parts).strip())
    assert shown_while_streaming.endswith(CURSOR) and "w199" in shown_while_streaming
    assert renders <= 4  # one per edit (three here at most), not 300
    assert target.pages[0].content == "".join(parts).strip()


async def test_plain_text_updates_still_work() -> None:
    target = Target()
    live = LiveReply(target, interval=0.01)  # type: ignore[arg-type]
    await live.start("…")
    live.update("partial answer")
    await asyncio.sleep(0.05)
    assert target.pages[0].content == "partial answer" + CURSOR
    await live.fail("The provider stopped.")
    final = target.pages[0].content
    assert final.startswith("partial answer") and "The provider stopped." in final


class SlowTarget(Target):
    """Discord taking its time over the first message."""

    async def first(self, content: str, files: Sequence[object] = (), embeds: Sequence[object] = ()) -> Page:
        await asyncio.sleep(0.1)
        return await super().first(content)


async def test_a_reply_complete_within_the_grace_period_is_one_message() -> None:
    target = Target(grace=0.2)
    live = LiveReply(target)  # type: ignore[arg-type]
    await live.start("…")
    live.update("the whole answer")
    await live.finish("the whole answer")
    assert [(p.content, p.edits) for p in target.pages] == [("the whole answer", 0)]


async def test_the_final_text_waits_for_a_first_message_in_flight() -> None:
    target = SlowTarget(grace=0.01)
    live = LiveReply(target, interval=0.01)  # type: ignore[arg-type]
    await live.start("…")
    await asyncio.sleep(0.03)  # the grace period is over: the placeholder is on its way
    await live.finish("done")  # must not post a second message, nor leave the placeholder
    assert [p.content for p in target.pages] == ["done"]


async def test_a_failure_before_anything_showed_is_posted_as_the_reply() -> None:
    target = Target(grace=0.5)
    live = LiveReply(target)  # type: ignore[arg-type]
    await live.start("…")
    await live.fail("The provider is down.")
    assert [p.content for p in target.pages] == ["⚠️ The provider is down."]


class FlakyTarget(Target):
    """Discord refusing the first post (503), then slow to answer the next ones."""

    def __init__(self, grace: float) -> None:
        super().__init__(grace)
        self.refused = False

    async def first(self, content: str, files: Sequence[object] = (), embeds: Sequence[object] = ()) -> Page:
        if not self.refused:
            self.refused = True
            raise discord.HTTPException(FakeResponse(503), "unavailable")
        page = await super().first(content)  # the message exists on Discord ...
        await asyncio.sleep(0.5)  # ... before the bot hears back
        return page


class FakeResponse:
    def __init__(self, status: int) -> None:
        self.status, self.reason = status, "unavailable"


async def test_a_post_retried_after_a_refusal_is_not_posted_twice() -> None:
    target = FlakyTarget(grace=0.01)
    live = LiveReply(target, interval=0.01)  # type: ignore[arg-type]
    await live.start("…")
    await asyncio.sleep(0.2)  # the first post was refused
    assert target.refused and target.pages == []
    live.update("partial, more")
    await asyncio.sleep(0.2)  # the next edit is posting the first message, still in flight
    assert [p.content for p in target.pages] == ["partial, more" + CURSOR]
    await live.finish("final answer")
    assert [p.content for p in target.pages] == ["final answer"]


class SlowMoreTarget(Target):
    """Discord slow to answer a continuation message."""

    async def more(self, content: str, files: Sequence[object] = (), embeds: Sequence[object] = ()) -> Page:
        page = await super().first(content)  # the message exists on Discord ...
        await asyncio.sleep(0.2)  # ... before the bot hears back
        return page


async def test_a_continuation_page_in_flight_is_not_posted_twice() -> None:
    target = SlowMoreTarget()
    live = LiveReply(target, interval=0.01)  # type: ignore[arg-type]
    await live.start("…")
    live.update("x" * 2500)  # a second page is due
    await asyncio.sleep(0.05)  # the first page is edited; the second is on its way
    await live.finish("x" * 2500)
    assert len(target.pages) == 2 and not any(p.content.endswith(CURSOR) for p in target.pages)


async def test_a_stopped_reply_posts_nothing_later() -> None:
    target = Target(grace=0.05)
    live = LiveReply(target)  # type: ignore[arg-type]
    await live.start("…")
    await live.stop()  # e.g. the turn was cancelled
    await asyncio.sleep(0.1)
    assert target.pages == [] and live._pump is None
