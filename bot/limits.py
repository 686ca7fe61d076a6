"""Rate limits and budgets per user and per server, checked before any work starts; the clock is injected."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.errors import UserError
from bot.i18n import Msg
from bot.permissions import Caller, require_feature
from bot.server_settings import GuildConfig, ServerSettings
from bot.store import Store, UsageRecord, UsageTotals

Clock = Callable[[], float]
DAY = 86400.0
LEDGER_TTL = 60.0
_MAX_BUCKETS = 10_000
_MAX_TALLIES = 10_000


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


_USER_RATE = "You are over the limit of {requests} a minute. Try again in {seconds}."
_SERVER_RATE = "This server is over the limit of {requests} a minute. Try again in {seconds}."
_USER_IMAGES = "That would pass your daily image limit ({limit} a day: {left} left, {asked} asked for)."
_SERVER_IMAGES = (
    "That would pass this server's daily image limit ({limit} a day: {left} left, {asked} asked for)."
)


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


@dataclass(slots=True)
class _Tally:
    """One user's (or server's) usage today and this month, as of `loaded`, kept current in memory."""

    day: float
    loaded: float
    upto: int  # the newest usage row the totals include
    today: UsageTotals
    month: UsageTotals

    def add(self, row_id: int, record: UsageRecord, at: float) -> None:
        """Count a usage row made at `at` that the totals do not include yet."""
        if row_id <= self.upto:
            return
        if at >= month_start(self.day):
            self.month = _plus(self.month, record)
        if at >= self.day:
            self.today = _plus(self.today, record)


def _plus(totals: UsageTotals, record: UsageRecord) -> UsageTotals:
    return UsageTotals(
        totals.tokens_in + record.tokens_in,
        totals.tokens_out + record.tokens_out,
        totals.images + record.images,
    )


TallyKey = tuple[int | None, int | None]


class UsageLedger:
    """Usage today and this month per user and per server: read once, then counted in memory.

    A budget check used to sum the month's usage rows twice a turn, a cost that grows all month. Now it
    reads memory; the database is read again after `ttl` seconds, or when the day changes, to pick up
    what other processes (the CLI) recorded.
    """

    def __init__(self, store: Store, *, ttl: float = LEDGER_TTL) -> None:
        self.store = store
        self.ttl = ttl
        self._tallies: dict[TallyKey, _Tally] = {}
        self._loading: dict[TallyKey, list[tuple[int, UsageRecord, float]]] = {}
        self._load_lock = asyncio.Lock()

    async def record(self, record: UsageRecord, *, at: float | None = None) -> None:
        """Store what a model call used, now or `at`, and count it (the LLM's usage sink)."""
        moment = time.time() if at is None else at
        self.count(await self.store.record_usage(record, at=moment), record, moment)

    def count(self, row_id: int, record: UsageRecord, at: float) -> None:
        """Count a usage row already stored (with a chat answer, by Store.add_reply)."""
        for key in ((record.guild_id, record.user_id), (record.guild_id, None)):
            if (tally := self._tallies.get(key)) is not None:
                tally.add(row_id, record, at)
            if (pending := self._loading.get(key)) is not None:
                pending.append((row_id, record, at))

    async def totals(
        self, guild_id: int | None, user_id: int | None, now: float
    ) -> tuple[UsageTotals, UsageTotals]:
        """Usage today and this month of a user (or, user_id None, a whole server) in a server or DMs."""
        key = (guild_id, user_id)
        tally = self._tallies.get(key)
        if self._stale(tally, now):
            async with self._load_lock:  # two reads of one key at once could each miss the other's rows
                tally = self._tallies.get(key)
                if self._stale(tally, now):
                    tally = await self._load(key, now)
        assert tally is not None
        return tally.today, tally.month

    def _stale(self, tally: _Tally | None, now: float) -> bool:
        return tally is None or tally.day != day_start(now) or now - tally.loaded > self.ttl

    async def _load(self, key: TallyKey, now: float) -> _Tally:
        # Rows recorded while the query runs may or may not be in its sums: `upto` tells which.
        pending = self._loading.setdefault(key, [])
        try:
            today, month, upto = await self.store.usage_day_and_month(
                guild_id=key[0], user_id=key[1], day_start=day_start(now), month_start=month_start(now)
            )
        finally:
            self._loading.pop(key, None)
        tally = _Tally(day_start(now), now, upto, today, month)
        for row_id, record, at in pending:
            tally.add(row_id, record, at)
        if len(self._tallies) >= _MAX_TALLIES:
            self._tallies = {k: t for k, t in self._tallies.items() if now - t.loaded <= self.ttl}
        self._tallies[key] = tally
        return tally


class Limits:
    """Role gates, budgets and request rates; `admit` refuses saying which limit and when it resets."""

    def __init__(
        self,
        store: Store,
        server: ServerSettings,
        *,
        now: Clock = time.time,
        ledger: UsageLedger | None = None,
    ) -> None:
        self.store = store
        self.server = server
        self.now = now
        self.ledger = ledger or UsageLedger(store)
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
        today, month = await self.ledger.totals(guild_id, user_id, now)
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
        scopes = [("user", caller.guild_id, caller.user_id, _USER_RATE)]
        if caller.guild_id is not None:
            scopes.append(("server", caller.guild_id, None, _SERVER_RATE))
        for who, guild_id, user_id, template in scopes:
            per_minute = config.limit(f"{who}_requests_per_minute")
            if not per_minute:
                continue
            bucket = self._bucket((who, guild_id, user_id), per_minute, now)
            wait = bucket.take(now)
            if wait:
                for earlier in taken:
                    earlier.give_back()
                seconds = max(1, round(wait + 0.49))
                raise UserError(
                    template,
                    kind="rate_limited",
                    retry_after=wait,
                    params={
                        "requests": Msg("{n} request" if per_minute == 1 else "{n} requests", n=per_minute),
                        "seconds": Msg("{n} second" if seconds == 1 else "{n} seconds", n=seconds),
                    },
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
    user = owner == "user"
    tomorrow = day_start(now) + DAY
    if budget.tokens_per_day and budget.today.tokens >= budget.tokens_per_day:
        raise _spent(
            Msg(
                "You've used your daily token budget ({limit} tokens)." if user
                else "This server has used its daily token budget ({limit} tokens).",
                limit=f"{budget.tokens_per_day:,}",
            ),
            tomorrow, now, "midnight UTC",
        )
    if budget.tokens_per_month and budget.month.tokens >= budget.tokens_per_month:
        raise _spent(
            Msg(
                "You've used your monthly token budget ({limit} tokens)." if user
                else "This server has used its monthly token budget ({limit} tokens).",
                limit=f"{budget.tokens_per_month:,}",
            ),
            next_month(now), now, "the 1st, 00:00 UTC",
        )
    if images and budget.images_per_day and budget.today.images + images > budget.images_per_day:
        left = max(0, budget.images_per_day - budget.today.images)
        raise _spent(
            Msg(
                _USER_IMAGES if user else _SERVER_IMAGES, limit=budget.images_per_day, left=left, asked=images
            ),
            tomorrow, now, "midnight UTC",
        )


def _spent(what: Msg, resets: float, now: float, when: str) -> UserError:
    return UserError(
        "{what} It resets <t:{resets}:R> ({when}).",
        kind="budget",
        retry_after=resets - now,
        params={"what": what, "resets": int(resets), "when": Msg(when)},
    )
