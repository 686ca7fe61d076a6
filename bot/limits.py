"""Rate limits and budgets per user and per server, checked before any work starts; the clock is injected."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.errors import UserError
from bot.permissions import Caller, require_feature
from bot.server_settings import GuildConfig, ServerSettings
from bot.store import Store, UsageTotals

Clock = Callable[[], float]
DAY = 86400.0
_MAX_BUCKETS = 10_000


def day_start(now: float) -> float:
    """Midnight UTC at the start of the day of `now`."""
    moment = datetime.fromtimestamp(now, UTC)
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC).timestamp()


def month_start(now: float) -> float:
    """Midnight UTC on the first of the month of `now`."""
    moment = datetime.fromtimestamp(now, UTC)
    return datetime(moment.year, moment.month, 1, tzinfo=UTC).timestamp()


def next_month(now: float) -> float:
    """Midnight UTC on the first of the next month."""
    first = datetime.fromtimestamp(month_start(now), UTC)
    return (first + timedelta(days=32)).replace(day=1).timestamp()


@dataclass(slots=True)
class TokenBucket:
    """Holds up to `capacity` requests, refilled evenly over a minute."""

    capacity: int
    level: float
    updated: float

    def take(self, now: float) -> float:
        """Take one request: 0.0 if it was there, else the seconds until one will be (nothing taken)."""
        rate = self.capacity / 60.0
        self.level = min(float(self.capacity), self.level + max(0.0, now - self.updated) * rate)
        self.updated = now
        if self.level >= 1.0:
            self.level -= 1.0
            return 0.0
        return (1.0 - self.level) / rate

    def give_back(self) -> None:
        """Return a request taken for work that was then refused."""
        self.level = min(float(self.capacity), self.level + 1.0)


@dataclass(frozen=True, slots=True)
class Budget:
    """What one user or server used today and this month, against its limits."""

    today: UsageTotals
    month: UsageTotals
    tokens_per_day: int
    tokens_per_month: int
    images_per_day: int

    @property
    def tokens_left(self) -> int | None:
        """Tokens left today, within the month's budget too (None: no limit)."""
        pairs = ((self.tokens_per_day, self.today.tokens), (self.tokens_per_month, self.month.tokens))
        left = [limit - used for limit, used in pairs if limit]
        return max(0, min(left)) if left else None

    @property
    def images_left(self) -> int | None:
        """Images left today (None: no limit)."""
        return max(0, self.images_per_day - self.today.images) if self.images_per_day else None


class Limits:
    """Role gates, budgets and request rates; `admit` refuses saying which limit and when it resets."""

    def __init__(self, store: Store, server: ServerSettings, *, now: Clock = time.time) -> None:
        self.store = store
        self.server = server
        self.now = now
        self._buckets: dict[tuple[str, int | None, int | None], TokenBucket] = {}

    async def check_access(self, feature: str, caller: Caller, role_names: dict[int, str]) -> GuildConfig:
        """Refuse a caller whose roles don't open the feature on this server."""
        config = await self.server.config(caller.guild_id)
        require_feature(feature, caller, config.roles(feature), role_names)
        return config

    async def admit(
        self, feature: str, caller: Caller, *, role_names: dict[int, str] | None = None, images: int = 0
    ) -> None:
        """Let a request start, or refuse it: role gate, then budgets, then requests per minute."""
        config = await self.check_access(feature, caller, role_names or {})
        now = self.now()
        user = await self.budget(caller.guild_id, caller.user_id, config, now)
        _check_budget(user, "user", images, now)
        if caller.guild_id is not None:
            server = await self.budget(caller.guild_id, None, config, now)
            _check_budget(server, "server", images, now)
        self._take_rate(caller, config, now)

    async def budget(
        self, guild_id: int | None, user_id: int | None, config: GuildConfig, now: float
    ) -> Budget:
        """Usage and limits of a user (or, with user_id None, a whole server) in a server or DMs."""
        today, month = await self.store.usage_day_and_month(
            guild_id=guild_id, user_id=user_id, day_start=day_start(now), month_start=month_start(now)
        )
        who = "user" if user_id is not None else "server"
        return Budget(
            today,
            month,
            config.limit(f"{who}_tokens_per_day"),
            config.limit(f"{who}_tokens_per_month"),
            config.limit(f"{who}_images_per_day"),
        )

    def _take_rate(self, caller: Caller, config: GuildConfig, now: float) -> None:
        taken: list[TokenBucket] = []
        scopes = [("user", caller.guild_id, caller.user_id, "You are")]
        if caller.guild_id is not None:
            scopes.append(("server", caller.guild_id, None, "This server is"))
        for who, guild_id, user_id, subject in scopes:
            per_minute = config.limit(f"{who}_requests_per_minute")
            if not per_minute:
                continue
            bucket = self._bucket((who, guild_id, user_id), per_minute, now)
            wait = bucket.take(now)
            if wait:
                for earlier in taken:
                    earlier.give_back()
                seconds = max(1, round(wait + 0.49))
                requests = f"{per_minute} request{'s' if per_minute != 1 else ''}"
                raise UserError(
                    f"{subject} over the limit of {requests} a minute. "
                    f"Try again in {seconds} second{'s' if seconds != 1 else ''}.",
                    kind="rate_limited",
                    retry_after=wait,
                )
            taken.append(bucket)

    def _bucket(self, key: tuple[str, int | None, int | None], capacity: int, now: float) -> TokenBucket:
        bucket = self._buckets.get(key)
        if bucket is None or bucket.capacity != capacity:
            level = float(capacity) if bucket is None else min(bucket.level, float(capacity))
            bucket = self._buckets[key] = TokenBucket(capacity, level, now)
        if len(self._buckets) > _MAX_BUCKETS:
            self._forget_full_buckets(now)
        return bucket

    def _forget_full_buckets(self, now: float) -> None:
        """A bucket that has refilled is the same as a new one: drop those to bound memory."""
        for key, bucket in list(self._buckets.items()):
            if bucket.level + (now - bucket.updated) * bucket.capacity / 60.0 >= bucket.capacity:
                del self._buckets[key]


def _check_budget(budget: Budget, owner: str, images: int, now: float) -> None:
    """Refuse when a token budget is used up or the images asked for would pass the daily limit."""
    has, its = ("You've", "your") if owner == "user" else ("This server has", "its")
    tomorrow = day_start(now) + DAY
    if budget.tokens_per_day and budget.today.tokens >= budget.tokens_per_day:
        raise _spent(
            f"{has} used {its} daily token budget ({budget.tokens_per_day:,} tokens).", tomorrow, now,
            "midnight UTC",
        )
    if budget.tokens_per_month and budget.month.tokens >= budget.tokens_per_month:
        raise _spent(
            f"{has} used {its} monthly token budget ({budget.tokens_per_month:,} tokens).",
            next_month(now),
            now,
            "the 1st, 00:00 UTC",
        )
    if images and budget.images_per_day and budget.today.images + images > budget.images_per_day:
        left = max(0, budget.images_per_day - budget.today.images)
        whose = "your" if owner == "user" else "this server's"
        raise _spent(
            f"That would pass {whose} daily image limit ({budget.images_per_day} a day: {left} left, "
            f"{images} asked for).",
            tomorrow,
            now,
            "midnight UTC",
        )


def _spent(what: str, resets: float, now: float, when: str) -> UserError:
    return UserError(
        f"{what} It resets <t:{int(resets)}:R> ({when}).", kind="budget", retry_after=resets - now
    )
