"""What /usage shows: usage today and this month against the budgets, and a 30-day bar chart (Pillow)."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import UTC, datetime

from PIL import Image, ImageDraw, ImageFont

from bot.limits import DAY, Budget, Limits, day_start, month_start
from bot.store import UsageTotals

CHART_DAYS = 30
CHART_SIZE = (720, 260)
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 64, 16, 36, 28
_BACKGROUND = (43, 45, 49)
_GRID = (70, 73, 80)
_TEXT = (220, 221, 222)
_SERVER = (88, 92, 102)
_IN = (88, 101, 242)
_OUT = (140, 152, 255)


@dataclass(frozen=True, slots=True)
class Side:
    """One side of the report (a user, or the whole server): usage, documents and budget."""

    budget: Budget
    documents_today: int
    documents_month: int


@dataclass(frozen=True, slots=True)
class UsageReport:
    """Everything /usage shows."""

    user: Side
    server: Side | None
    first_day: float
    user_days: list[UsageTotals]
    server_days: list[UsageTotals] | None


async def usage_report(limits: Limits, guild_id: int | None, user_id: int) -> UsageReport:
    """A user's usage (and their server's) today, this month and per day over the last 30 days."""
    now = limits.now()
    config = await limits.server.config(guild_id)
    today, month = day_start(now), month_start(now)
    first = today - (CHART_DAYS - 1) * DAY
    store = limits.store

    async def side(user: int | None) -> Side:
        budget = await limits.budget(guild_id, user, config, now)
        docs_today = await store.documents_added(guild_id=guild_id, uploader_id=user, since=today)
        docs_month = await store.documents_added(guild_id=guild_id, uploader_id=user, since=month)
        return Side(budget, docs_today, docs_month)

    server = await side(None) if guild_id is not None else None
    server_days = (
        await store.usage_by_day(guild_id=guild_id, user_id=None, start=first, days=CHART_DAYS)
        if guild_id is not None
        else None
    )
    user_days = await store.usage_by_day(guild_id=guild_id, user_id=user_id, start=first, days=CHART_DAYS)
    return UsageReport(await side(user_id), server, first, user_days, server_days)


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size)
    except (OSError, TypeError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _short(value: int) -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:.1f}M"
    if value >= 1_000:
        return f"{value / 1_000:.0f}k"
    return str(value)


def render_chart(report: UsageReport, *, label: str = "you") -> bytes:
    """A PNG bar chart of tokens per day (in and out) over the last 30 days; CPU work: call it in a thread."""
    width, height = CHART_SIZE
    image = Image.new("RGB", CHART_SIZE, _BACKGROUND)
    draw = ImageDraw.Draw(image)
    small, title = _font(11), _font(13)
    server = report.server_days or []
    peak = max([d.tokens for d in report.user_days] + [d.tokens for d in server] + [1])
    left, right = _MARGIN_LEFT, width - _MARGIN_RIGHT
    top, bottom = _MARGIN_TOP, height - _MARGIN_BOTTOM
    legend = f"Tokens per day, last {CHART_DAYS} days (UTC) · {label}: in / out"
    draw.text((left, 10), legend + (" · server: grey" if server else ""), fill=_TEXT, font=title)
    for fraction in (0.0, 0.5, 1.0):
        y = bottom - (bottom - top) * fraction
        draw.line([(left, y), (right, y)], fill=_GRID)
        draw.text((8, y - 7), _short(int(peak * fraction)), fill=_TEXT, font=small)
    slot = (right - left) / CHART_DAYS
    scale = (bottom - top) / peak
    for i, day in enumerate(report.user_days):
        x0, x1 = left + i * slot + 2, left + (i + 1) * slot - 2
        if i < len(server) and server[i].tokens:
            draw.rectangle([x0, bottom - server[i].tokens * scale, x1, bottom], fill=_SERVER)
        inner0, inner1 = x0 + slot * 0.15, x1 - slot * 0.15
        if day.tokens_in:
            draw.rectangle([inner0, bottom - day.tokens_in * scale, inner1, bottom], fill=_IN)
        if day.tokens_out:
            base = bottom - day.tokens_in * scale
            draw.rectangle([inner0, base - day.tokens_out * scale, inner1, base], fill=_OUT)
        if (i % 7 == 0 and i <= CHART_DAYS - 7) or i == CHART_DAYS - 1:
            when = datetime.fromtimestamp(report.first_day + i * DAY, UTC).strftime("%b %d")
            x = min(x0, right - draw.textlength(when, font=small))
            draw.text((x, bottom + 6), when, fill=_TEXT, font=small)
    if not any(d.tokens for d in [*report.user_days, *server]):
        empty = f"No tokens used in the last {CHART_DAYS} days"
        draw.text((left + 180, (top + bottom) / 2 - 8), empty, fill=_TEXT, font=title)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()
