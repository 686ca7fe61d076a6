"""FakeDiscord's core: server hooks, task tracking, settle() and readers of what the bot did."""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar

import discord
from discord import app_commands

from tests.fakes.discord_payloads import (
    Call,
    InteractionRecord,
    Payload,
    SentMessage,
    SentModal,
    clone,
)
from tests.fakes.discord_server import FakeDiscordServer

T = TypeVar("T")

_TRACKER: contextvars.ContextVar[HarnessCore | None] = contextvars.ContextVar("fake_discord", default=None)


class DiscordWouldRefuse(Exception):
    """Discord's client or API would not let this through (bad option, missing permission, ...)."""


class SettleTimeout(AssertionError):
    """The bot was still busy when settle() gave up."""


class _TaskTracker:
    """Loop task factory: tasks created on behalf of a FakeDiscord dispatch are reported to it."""

    def __init__(self, previous: Any) -> None:
        self.previous = previous
        self.users = 0

    def __call__(self, loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any) -> asyncio.Task[Any]:
        if self.previous is not None:
            task = self.previous(loop, coro, **kwargs)
        else:
            task = asyncio.Task(coro, loop=loop, **kwargs)
        context = kwargs.get("context")
        owner = context.get(_TRACKER) if context is not None else _TRACKER.get()
        if owner is not None:
            owner._track(task)
        return task


class _ErrorLog(logging.Handler):
    """Collects errors discord.py logs (command, view and event handler failures)."""

    def __init__(self, sink: list[BaseException]) -> None:
        super().__init__(logging.ERROR)
        self.sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        """Record the exception (or message) of an error log record."""
        exc = record.exc_info[1] if record.exc_info else None
        self.sink.append(exc if exc is not None else RuntimeError(record.getMessage()))


def _id(obj: Any) -> int:
    if isinstance(obj, int):
        return obj
    if isinstance(obj, dict):
        return int(obj["id"])
    return int(obj.id)


def _released_future(callback: Any) -> asyncio.Future[Any] | None:
    # asyncio.wait_for (3.11) wakes its waiter through functools.partial(_release_waiter, waiter).
    if (
        isinstance(callback, functools.partial)
        and callback.args
        and isinstance(callback.args[0], asyncio.Future)
    ):
        return callback.args[0]
    return None


def _innermost(task: asyncio.Task[Any]) -> str:
    """Where a task is suspended: its await chain and the innermost line."""
    coro: Any = task.get_coro()
    chain = [getattr(coro, "__qualname__", str(coro))]
    while getattr(coro, "cr_await", None) is not None and hasattr(coro.cr_await, "cr_frame"):
        coro = coro.cr_await
        chain.append(getattr(coro, "__qualname__", str(coro)))
    frame = getattr(coro, "cr_frame", None)
    location = f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else "?"
    return f"{' > '.join(chain)} ({location})"


class HarnessCore:
    """A bot bound to a fake Discord server: hooks, lookups, tracking and what the bot did."""

    def __init__(
        self,
        bot: discord.Client,
        *,
        server: FakeDiscordServer | None = None,
        bot_name: str = "teambot",
        echo: bool = True,
        interaction_deadline: float = 3.0,
        token: str = "fake-token",
    ) -> None:
        self.server = server or FakeDiscordServer(
            bot_name=bot_name, interaction_deadline=interaction_deadline
        )
        self.server.hooks = self
        self.bot = bot
        self.echo = echo
        self.token = token  # the bot logs in with it: tests can check that it never leaks
        self.errors: list[BaseException] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._events: dict[str, tuple[Any, ...]] = {}
        self._log_handler = _ErrorLog(self.errors)
        self._tracker: _TaskTracker | None = None
        self._started = False

    @property
    def state(self) -> Any:
        """The bot's ConnectionState."""
        return self.bot._connection

    @property
    def tree(self) -> app_commands.CommandTree[Any]:
        """The bot's command tree."""
        return self.state._command_tree

    @property
    def bot_user(self) -> discord.ClientUser:
        """The logged-in bot user."""
        assert self.bot.user is not None
        return self.bot.user

    @property
    def bot_mention(self) -> str:
        """`<@bot_id>`, to put in message content."""
        return f"<@{self.server.bot_id}>"

    # ------------------------------------------------------------------ hooks used by the server

    def permissions_for(self, channel_id: int, user_id: int) -> discord.Permissions | None:
        """A user's permissions in a channel as discord.py computes them (None for DMs)."""
        if not self._started:
            return None
        channel = self.bot.get_channel(channel_id)
        if channel is None or isinstance(channel, discord.abc.PrivateChannel):
            return None
        member = self._member_obj(channel.guild, user_id)
        return discord.Permissions.none() if member is None else channel.permissions_for(member)

    def gateway(self, event: str, payload: Payload) -> None:
        """Deliver a gateway event (always tracked by settle())."""
        if self.echo and self._started:
            loop = asyncio.get_running_loop()
            self._run_tracked(loop.create_task, self._deliver(event, payload))

    def content_intent(self) -> bool:
        """Whether the bot asked for message content."""
        return self.bot.intents.message_content

    async def _deliver(self, event: str, payload: Payload) -> None:
        await asyncio.sleep(0)
        if event in ("MESSAGE_CREATE", "MESSAGE_UPDATE"):
            payload = self.server._visible_content(payload)
        self.state.parsers[event](payload)

    # ------------------------------------------------------------------ lookups

    def _member_obj(self, guild: discord.Guild, user_id: int) -> discord.Member | None:
        member = guild.get_member(user_id)
        if member is None:
            data = self.server.member(guild.id, user_id)
            if data is not None:
                member = discord.Member(data=clone(data), guild=guild, state=self.state)  # type: ignore[arg-type]
        return member

    def _user_obj(self, user_id: int) -> discord.User:
        return self.state.store_user(clone(self.server.users[user_id]))

    # ------------------------------------------------------------------ tracking and waiting

    def _track(self, task: asyncio.Task[Any]) -> None:
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.errors.append(task.exception())  # type: ignore[arg-type]

    def _run_tracked(self, fn: Callable[..., T], *args: Any) -> T:
        """Call fn in a context whose tasks (and their tasks) settle() waits for."""

        def enter() -> T:
            _TRACKER.set(self)
            return fn(*args)

        return contextvars.copy_context().run(enter)

    def _input_futures(self) -> set[asyncio.Future[Any]]:
        """Futures only a user can resolve: view/modal waits and bot.wait_for()."""
        store = self.state._view_store
        views: list[Any] = [item.view for items in store._views.values() for item in items.values()]
        views.extend(store._modals.values())
        futures = {getattr(v, "_BaseView__stopped", None) for v in views if v is not None}
        for listeners in getattr(self.bot, "_listeners", {}).values():
            futures.update(future for future, _ in listeners)
        return {f for f in futures if f is not None and not f.done()}

    def _busy(self) -> list[asyncio.Task[Any]]:
        """Tracked tasks still working (not waiting for a user, not a view timeout timer)."""
        pending = [t for t in self._tasks if not t.done()]
        parked_futures: set[asyncio.Future[Any]] = set(self._input_futures())
        parked: set[asyncio.Task[Any]] = {
            t for t in pending if getattr(t.get_coro(), "__qualname__", "").endswith("__timeout_task_impl")
        }
        changed = True
        while changed:
            changed = False
            for fut in list(parked_futures | parked):
                for callback, _ctx in getattr(fut, "_callbacks", None) or []:
                    target = _released_future(callback)
                    if target is not None and target not in parked_futures:
                        parked_futures.add(target)
                        changed = True
            for task in pending:
                waiter = getattr(task, "_fut_waiter", None)
                if (
                    task not in parked
                    and waiter is not None
                    and (waiter in parked_futures or waiter in parked)
                ):
                    parked.add(task)
                    changed = True
        return [t for t in pending if t not in parked]

    async def settle(self, timeout: float = 5.0) -> None:  # noqa: ASYNC109 - bounded wait with a diagnosis
        """Wait until every task spawned by delivered events is done or waiting for user input."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        quiet = 0
        while quiet < 3:
            busy = self._busy()
            if not busy:
                quiet += 1
                await asyncio.sleep(0)
                continue
            quiet = 0
            remaining = deadline - loop.time()
            if remaining <= 0:
                where = "; ".join(f"{task.get_name()} in {_innermost(task)}" for task in busy)
                raise SettleTimeout(f"bot still busy after {timeout}s: {where}")
            await asyncio.wait(busy, timeout=min(remaining, 0.02), return_when=asyncio.FIRST_COMPLETED)

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:  # noqa: ASYNC109
        """Poll predicate until true (for work the bot does outside delivered events)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not predicate():
            if loop.time() > deadline:
                raise AssertionError(f"condition not met within {timeout}s")
            await asyncio.sleep(0.005)

    def assert_clean(self) -> None:
        """Fail if the bot logged/raised an error or called a route the fake does not know."""
        assert not self.errors, f"bot errors: {self.errors!r}"
        unknown = [f"{c.method} {c.path}" for c in self.server.unhandled]
        assert not unknown, f"routes FakeDiscord does not implement: {unknown}"

    # ------------------------------------------------------------------ what the bot did

    @property
    def calls(self) -> list[Call]:
        """Every REST/CDN call the bot made, in order."""
        return self.server.calls

    @property
    def modals(self) -> list[SentModal]:
        """Every modal the bot opened."""
        return self.server.modals

    @property
    def interactions(self) -> list[InteractionRecord]:
        """Every interaction delivered, in order."""
        return list(self.server.interactions.values())

    def sent(self, channel: Any = None, *, include_deleted: bool = False) -> list[SentMessage]:
        """Messages the bot posted (optionally in one channel), final state, in order; ephemeral included."""
        channel_id = None if channel is None else _id(channel)
        return [
            m
            for m in self.server.sent
            if (channel_id is None or m.channel_id == channel_id) and (include_deleted or not m.deleted)
        ]

    def last_sent(self, channel: Any = None) -> SentMessage:
        """The most recent message the bot posted (optionally in one channel)."""
        sent = self.sent(channel)
        if not sent:
            raise AssertionError(
                "the bot has not sent anything" + ("" if channel is None else f" in {channel}")
            )
        return sent[-1]

    def history(self, channel: Any) -> list[Payload]:
        """A channel's stored messages (users' and bot's, ephemeral excluded), oldest first."""
        return sorted(self.server.messages.get(_id(channel), {}).values(), key=lambda m: int(m["id"]))

    def reactions(self, message: Any) -> list[str]:
        """Emoji the bot currently has on a message."""
        mine: list[str] = []
        for _, message_id, emoji, added in self.server.reactions:
            if message_id == _id(message):
                if added and emoji not in mine:
                    mine.append(emoji)
                elif not added and emoji in mine:
                    mine.remove(emoji)
        return mine
