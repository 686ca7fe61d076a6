"""LiveReply: streamed text shows through throttled edits, rendered only when an edit shows it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

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

    def __init__(self) -> None:
        self.pages: list[Page] = []

    async def first(self, content: str) -> Page:
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
