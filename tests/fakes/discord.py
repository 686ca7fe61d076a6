"""Drive a real discord.py bot against a fake Discord: only the REST/gateway edge is fake.

The bot's `HTTPClient` and webhook adapter run for real (routes, multipart, rate-limit
bookkeeping); the aiohttp session they hold is a `FakeSession` answering from
`FakeDiscordServer` (tests/fakes/discord_server.py). Gateway events go straight into the bot's
real parsers (`parse_message_create`, `parse_interaction_create`, ...), so listeners, the command
tree (checks, transformers, autocomplete, error handlers), views and modals run unmodified and
every object is the real class (`discord.Message`, `discord.Interaction`, `discord.Member`).

    fd = await FakeDiscord(bot).start()            # real bot.login(): setup_hook runs; then on_ready
    guild = fd.guild("Team")
    general = fd.text_channel(guild, "general")
    alice = fd.member(guild, "alice", display_name="Alice")
    msg = await fd.send_message(general, alice, "hi", mentions_bot=True)
    rec = await fd.slash("docs add", {"file": ("a.md", b"# A")}, user=alice, channel=general)
    assert fd.last_sent(general).content == "..."
    await fd.close()

Like Discord, the fake refuses what Discord refuses: content over 2000 characters, embed limits,
empty messages, missing bot permissions (403), a second interaction response, a first response
later than `interaction_deadline` (404 Unknown interaction), impossible slash input
(`DiscordWouldRefuse`). Drivers settle by default: they return once every task spawned by the
delivered event has finished or is waiting for user input (a view, a modal, `bot.wait_for`).
No socket is ever opened.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import re
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import discord
from discord import app_commands
from discord.http import Route

from tests.fakes.discord_payloads import (
    Call,
    InteractionRecord,
    Payload,
    SentFile,
    SentMessage,
    SentModal,
    Upload,
    attachment_payload,
    clone,
    dm_payload,
    guild_channel_payload,
    member_payload,
    message_payload,
    modal_inputs,
    overwrite_payload,
    role_payload,
    thread_payload,
    user_payload,
    walk_components,
)
from tests.fakes.discord_server import FakeDiscordServer, FakeSession

__all__ = [
    "DEFAULT_BOT_PERMISSIONS",
    "DEFAULT_EVERYONE_PERMISSIONS",
    "Call",
    "DiscordWouldRefuse",
    "FakeDiscord",
    "FakeDiscordServer",
    "InteractionRecord",
    "SentFile",
    "SentMessage",
    "SentModal",
    "SettleTimeout",
    "Upload",
]

T = TypeVar("T")
log = logging.getLogger(__name__)

DEFAULT_EVERYONE_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    send_messages_in_threads=True,
    create_public_threads=True,
    read_message_history=True,
    add_reactions=True,
    embed_links=True,
    attach_files=True,
    use_external_emojis=True,
    use_application_commands=True,
    change_nickname=True,
    connect=True,
    speak=True,
)
DEFAULT_BOT_PERMISSIONS = DEFAULT_EVERYONE_PERMISSIONS | discord.Permissions(manage_threads=True)
DM_PERMISSIONS = discord.Permissions(
    view_channel=True,
    send_messages=True,
    embed_links=True,
    attach_files=True,
    read_message_history=True,
    add_reactions=True,
    use_external_emojis=True,
)
SELECT_TYPES = (3, 5, 6, 7, 8)

_TRACKER: contextvars.ContextVar[FakeDiscord | None] = contextvars.ContextVar("fake_discord", default=None)


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


class FakeDiscord:
    """A bot bound to a fake Discord: build the world, deliver events, read what the bot did."""

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

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeDiscord:
        """Log the bot in (its setup_hook runs), load the world into its cache, dispatch on_ready."""
        loop = asyncio.get_running_loop()
        factory = loop.get_task_factory()
        if not isinstance(factory, _TaskTracker):
            factory = _TaskTracker(factory)
            loop.set_task_factory(factory)
        factory.users += 1
        self._tracker = factory
        logging.getLogger("discord").addHandler(self._log_handler)
        try:
            await self._login()
        except BaseException:
            await self.close()
            raise
        return self

    async def close(self) -> None:
        """Cancel the bot's leftover tasks, close the bot and restore the loop."""
        await self._shutdown_bot()
        logging.getLogger("discord").removeHandler(self._log_handler)
        if self._tracker is not None:
            self._tracker.users -= 1
            loop = asyncio.get_running_loop()
            if self._tracker.users == 0 and loop.get_task_factory() is self._tracker:
                loop.set_task_factory(self._tracker.previous)
            self._tracker = None

    async def restart(self, bot: discord.Client) -> None:
        """Replace the bot process (e.g. to test persistent views); Discord's world stays."""
        await self._shutdown_bot()
        self.bot = bot
        self._events = {}
        await self._login()

    async def __aenter__(self) -> FakeDiscord:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _login(self) -> None:
        bot, server = self.bot, self.server
        session = self.session = FakeSession(server)
        http = bot.http

        async def static_login(token: str) -> Any:
            setattr(http, "_HTTPClient__session", session)  # noqa: B010 - name-mangled private slot
            http._global_over = asyncio.Event()
            http._global_over.set()
            http.token = server.token = token
            return await http.request(Route("GET", "/users/@me"))

        http.static_login = static_login  # type: ignore[method-assign]
        state = self.state
        forward = state.dispatch

        def dispatch(event: str, *args: Any, **kwargs: Any) -> Any:
            self._events[event] = args
            return forward(event, *args, **kwargs)

        state.dispatch = dispatch
        await bot.login(self.token)
        for guild_id in server.guilds:
            if guild_id not in server.left_guilds:
                state._add_guild_from_data(server.full_guild(guild_id))
        for channel in server.channels.values():
            if channel["type"] == 1:
                state.add_dm_channel(clone(channel))
        bot._ready.set()
        self._started = True
        self._run_tracked(state.dispatch, "ready")
        await self.settle()

    async def _shutdown_bot(self) -> None:
        self._started = False
        pending = [task for task in self._tasks if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.wait(pending, timeout=2)
        if not self.bot.is_closed():
            await self.bot.close()

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

    # ------------------------------------------------------------------ world builders

    def _guild_obj(self, guild: Any) -> discord.Guild:
        found = self.bot.get_guild(_id(guild))
        if found is None:
            raise ValueError(f"unknown guild {guild!r}")
        return found

    def _member_obj(self, guild: discord.Guild, user_id: int) -> discord.Member | None:
        member = guild.get_member(user_id)
        if member is None:
            data = self.server.member(guild.id, user_id)
            if data is not None:
                member = discord.Member(data=clone(data), guild=guild, state=self.state)  # type: ignore[arg-type]
        return member

    def user(
        self, name: str, *, display_name: str | None = None, bot: bool = False, id: int | None = None
    ) -> discord.User:
        """A Discord user (not in any guild)."""
        user_id = id or self.server.ids.next()
        self.server.users[user_id] = user_payload(user_id, name, global_name=display_name, bot=bot)
        return self.state.store_user(clone(self.server.users[user_id]))

    def guild(
        self,
        name: str = "Team",
        *,
        owner: discord.abc.User | None = None,
        everyone: discord.Permissions = DEFAULT_EVERYONE_PERMISSIONS,
        bot_permissions: discord.Permissions = DEFAULT_BOT_PERMISSIONS,
        locale: str = "en-US",
        id: int | None = None,
    ) -> discord.Guild:
        """A guild the bot is in, with @everyone, the bot's managed role, the bot and an owner member."""
        server = self.server
        guild_id = id or server.ids.next()
        owner_user = owner or self.user(f"{name.lower()}-owner")
        server.guilds[guild_id] = {"name": name, "owner_id": owner_user.id, "locale": locale}
        bot_role = server.ids.next()
        server.roles[guild_id] = {
            guild_id: role_payload(guild_id, "@everyone", everyone.value, 0),
            bot_role: role_payload(
                bot_role, server.bot_user["username"], bot_permissions.value, 1, bot_id=server.bot_id
            ),
        }
        server.members[guild_id] = {
            server.bot_id: member_payload(server.bot_user, [bot_role]),
            owner_user.id: member_payload(server.users[owner_user.id], []),
        }
        return self.state._add_guild_from_data(server.full_guild(guild_id))

    def role(
        self,
        guild: discord.Guild,
        name: str,
        permissions: discord.Permissions | None = None,
        *,
        id: int | None = None,
    ) -> discord.Role:
        """A role with these permissions."""
        server, obj = self.server, self._guild_obj(guild)
        role_id = id or server.ids.next()
        perms = permissions or discord.Permissions.none()
        server.roles[obj.id][role_id] = role_payload(role_id, name, perms.value, len(server.roles[obj.id]))
        role = discord.Role(guild=obj, state=self.state, data=clone(server.roles[obj.id][role_id]))
        obj._add_role(role)
        return role

    def member(
        self,
        guild: discord.Guild,
        name: str,
        *,
        display_name: str | None = None,
        nick: str | None = None,
        roles: Sequence[discord.Role] = (),
        permissions: discord.Permissions | None = None,
        bot: bool = False,
        user: discord.abc.User | None = None,
        id: int | None = None,
    ) -> discord.Member:
        """A guild member; `permissions` gives them a role with exactly those permissions."""
        obj = self._guild_obj(guild)
        if user is None:
            user = self.user(name, display_name=display_name, bot=bot, id=id)
        role_ids = [r.id for r in roles]
        if permissions is not None:
            role_ids.append(self.role(obj, f"{name}-permissions", permissions).id)
        data = member_payload(self.server.users[user.id], role_ids, nick=nick)
        self.server.members[obj.id][user.id] = data
        member = discord.Member(data=clone(data), guild=obj, state=self.state)  # type: ignore[arg-type]
        if self.state.member_cache_flags.joined:
            obj._add_member(member)
        obj._member_count = len(self.server.members[obj.id])
        return member

    def _overwrites(
        self, guild_id: int, overwrites: Mapping[Any, discord.PermissionOverwrite] | None
    ) -> list[Payload]:
        return [
            overwrite_payload(_id(target), _id(target) in self.server.roles[guild_id], ow)
            for target, ow in (overwrites or {}).items()
        ]

    def category(
        self,
        guild: discord.Guild,
        name: str,
        *,
        overwrites: Mapping[Any, discord.PermissionOverwrite] | None = None,
    ) -> discord.CategoryChannel:
        """A category channel."""
        obj = self._guild_obj(guild)
        channel_id = self.server.ids.next()
        data = guild_channel_payload(
            channel_id,
            obj.id,
            name,
            type=4,
            position=len(obj.channels),
            overwrites=self._overwrites(obj.id, overwrites),
        )
        self.server.channels[channel_id] = data
        channel = discord.CategoryChannel(guild=obj, state=self.state, data=clone(data))  # type: ignore[arg-type]
        obj._add_channel(channel)
        return channel

    def text_channel(
        self,
        guild: discord.Guild,
        name: str = "general",
        *,
        topic: str | None = None,
        overwrites: Mapping[Any, discord.PermissionOverwrite] | None = None,
        category: discord.CategoryChannel | None = None,
        id: int | None = None,
    ) -> discord.TextChannel:
        """A text channel; `overwrites` maps roles/members to PermissionOverwrite."""
        obj = self._guild_obj(guild)
        channel_id = id or self.server.ids.next()
        data = guild_channel_payload(
            channel_id,
            obj.id,
            name,
            position=len(obj.channels),
            topic=topic,
            overwrites=self._overwrites(obj.id, overwrites),
            parent_id=None if category is None else category.id,
        )
        self.server.channels[channel_id] = data
        channel = discord.TextChannel(guild=obj, state=self.state, data=clone(data))  # type: ignore[arg-type]
        obj._add_channel(channel)
        return channel

    def set_overwrites(
        self, channel: discord.abc.GuildChannel, overwrites: Mapping[Any, discord.PermissionOverwrite]
    ) -> None:
        """Replace a channel's permission overwrites (as a server admin would)."""
        data = self.server.channels[channel.id]
        data["permission_overwrites"] = self._overwrites(channel.guild.id, overwrites)
        obj = self.bot.get_channel(channel.id)
        obj._update(obj.guild, clone(data))  # type: ignore[union-attr]

    def thread(
        self,
        parent: discord.TextChannel,
        name: str = "thread",
        *,
        owner: discord.abc.User | None = None,
        private: bool = False,
        id: int | None = None,
    ) -> discord.Thread:
        """A thread under a text channel."""
        guild = self._guild_obj(parent.guild)
        thread_id = id or self.server.ids.next()
        owner_id = self.server.bot_id if owner is None else owner.id
        data = thread_payload(thread_id, guild.id, parent.id, owner_id, name, private=private)
        self.server.channels[thread_id] = data
        return guild._store_thread(clone(data))  # type: ignore[arg-type]

    def dm_channel(self, user: discord.abc.User) -> discord.DMChannel:
        """The DM channel between the bot and a user."""
        for data in self.server.channels.values():
            if data["type"] == 1 and data["recipients"][0]["id"] == str(user.id):
                break
        else:
            channel_id = self.server.ids.next()
            data = dm_payload(channel_id, self.server.users[user.id])
            self.server.channels[channel_id] = data
        existing = self.bot.get_channel(int(data["id"]))
        if isinstance(existing, discord.DMChannel):
            return existing
        return self.state.add_dm_channel(clone(data))

    def close_dms(self, user: discord.abc.User) -> None:
        """Make sending a DM to this user fail with 50007 (they block DMs)."""
        self.server.closed_dms.add(user.id)

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

    # ------------------------------------------------------------------ messages from users

    def _message_payload(self, message: Any) -> Payload:
        if isinstance(message, SentMessage):
            return message.payload
        found = self.server.find_message(_id(message))
        if found is None:
            raise ValueError(f"unknown message {message!r}")
        return found

    async def send_message(
        self,
        channel: Any,
        author: discord.abc.User,
        content: str = "",
        *,
        mentions_bot: bool = False,
        reply_to: Any = None,
        ping_reply: bool = True,
        attachments: Sequence[Upload | tuple[Any, ...]] = (),
        embeds: Sequence[discord.Embed] = (),
        settle: bool = True,
    ) -> discord.Message | None:
        """A user posts a message; returns the discord.Message the bot received (None if it can't see it)."""
        server = self.server
        channel_id = _id(channel)
        if channel_id not in server.channels:
            raise ValueError(f"unknown channel {channel!r}")
        guild_id = server.guild_of(channel_id)
        if mentions_bot and self.bot_mention not in content:
            content = f"{self.bot_mention} {content}".rstrip()
        uploads = [Upload.coerce(a) for a in attachments]
        member, perms = None, None
        if guild_id is not None:
            member = server.member(guild_id, author.id)
            perms = self.permissions_for(channel_id, author.id)
            if member is None or perms is None:
                raise DiscordWouldRefuse(f"{author} is not a member of guild {guild_id}")
            if not (perms.view_channel and perms.send_messages) or (uploads and not perms.attach_files):
                raise DiscordWouldRefuse(f"{author} may not post that in channel {channel_id}")
        attachment_payloads = []
        for upload in uploads:
            att = attachment_payload(
                server.ids.next(),
                channel_id,
                upload.filename,
                upload.data,
                content_type=upload.content_type,
                description=upload.description,
            )
            server.add_cdn(att, upload.data)
            attachment_payloads.append(att)
        mentioned = [int(x) for x in re.findall(r"<@!?(\d+)>", content)]
        referenced = None if reply_to is None else clone(self._message_payload(reply_to))
        if referenced is not None and ping_reply:
            mentioned.append(int(referenced["author"]["id"]))
        message_id = server.ids.next()
        data = message_payload(
            message_id,
            channel_id,
            clone(server.users[author.id]),
            content=content,
            guild_id=guild_id,
            member=member,
            mentions=self._mention_payloads(guild_id, mentioned),
            mention_roles=[int(x) for x in re.findall(r"<@&(\d+)>", content)],
            mention_everyone="@everyone" in content and bool(perms and perms.mention_everyone),
            attachments=attachment_payloads,
            embeds=[e.to_dict() for e in embeds],
            type=19 if referenced else 0,
        )
        if referenced is not None:
            referenced.pop("referenced_message", None)
            data["message_reference"] = {
                "type": 0,
                "message_id": referenced["id"],
                "channel_id": str(channel_id),
            }
            if guild_id is not None:
                data["message_reference"]["guild_id"] = str(guild_id)
            data["referenced_message"] = referenced
        server.store_message(data)
        bot_perms = self.permissions_for(channel_id, server.bot_id)
        if bot_perms is not None and not bot_perms.view_channel:
            return None
        self._events.pop("message", None)
        self._run_tracked(self.state.parse_message_create, clone(server._visible_content(data)))
        message = self._events.pop("message", (None,))[0]
        if settle:
            await self.settle()
        return message

    def _mention_payloads(self, guild_id: int | None, user_ids: Sequence[int]) -> list[Payload]:
        out: list[Payload] = []
        for user_id in dict.fromkeys(user_ids):
            if user_id not in self.server.users:
                continue
            entry = clone(self.server.users[user_id])
            member = None if guild_id is None else self.server.member(guild_id, user_id)
            if member is not None:
                entry["member"] = {k: v for k, v in clone(member).items() if k != "user"}
            out.append(entry)
        return out

    async def dispatch(self, event: str, payload: Payload, *, settle: bool = True) -> None:
        """Feed any raw gateway event (e.g. GUILD_MEMBER_ADD) to the bot's parser."""
        self._run_tracked(self.state.parsers[event], clone(payload))
        if settle:
            await self.settle()

    # ------------------------------------------------------------------ interactions

    def _interaction(
        self,
        kind: int,
        data: Payload,
        *,
        user: discord.abc.User,
        channel_id: int,
        locale: str,
        message: Payload | None = None,
    ) -> tuple[Payload, InteractionRecord]:
        server = self.server
        interaction_id = server.ids.next()
        token = f"fake-interaction-token-{interaction_id}"
        guild_id = server.guild_of(channel_id)
        channel = clone(server.channels[channel_id])
        payload: Payload = {
            "id": str(interaction_id),
            "application_id": str(server.bot_id),
            "type": kind,
            "data": data,
            "token": token,
            "version": 1,
            "locale": locale,
            "entitlements": [],
            "entitlement_sku_ids": [],
            "attachment_size_limit": server.attachment_size_limit,
            "channel_id": str(channel_id),
            "channel": channel,
        }
        if guild_id is not None:
            member = server.member(guild_id, user.id)
            perms = self.permissions_for(channel_id, user.id)
            if member is None or perms is None:
                raise DiscordWouldRefuse(f"{user} is not a member of guild {guild_id}")
            channel["permissions"] = str(perms.value)
            app_perms = self.permissions_for(channel_id, server.bot_id) or discord.Permissions.none()
            guild_locale = server.guilds[guild_id]["locale"]
            payload.update(
                guild_id=str(guild_id),
                guild={"id": str(guild_id), "locale": guild_locale, "features": []},
                guild_locale=guild_locale,
                member={**clone(member), "permissions": str(perms.value)},
                app_permissions=str(app_perms.value),
                context=0,
                authorizing_integration_owners={"0": str(guild_id)},
            )
        else:
            payload.update(
                user=clone(server.users[user.id]),
                app_permissions=str(DM_PERMISSIONS.value),
                context=1,
                authorizing_integration_owners={"0": "0"},
            )
        if message is not None:
            payload["message"] = clone(message)
        record = InteractionRecord(
            id=interaction_id,
            token=token,
            type=kind,
            payload=payload,
            user_id=user.id,
            channel_id=channel_id,
            guild_id=guild_id,
            created_at=time.monotonic(),
            component_message_id=None if message is None else int(message["id"]),
        )
        server.interactions[interaction_id] = record
        return payload, record

    async def _deliver_interaction(
        self, payload: Payload, record: InteractionRecord, settle: bool
    ) -> InteractionRecord:
        self._events.pop("interaction", None)
        self._run_tracked(self.state.parse_interaction_create, clone(payload))
        record.interaction = self._events.pop("interaction", (None,))[0]
        if settle:
            await self.settle()
        return record

    def _find_command(
        self, name: str, guild_id: int | None, kind: discord.AppCommandType
    ) -> tuple[Any, Payload, bool]:
        tree = self.tree
        command = (
            None if guild_id is None else tree.get_command(name, guild=discord.Object(guild_id), type=kind)
        )
        guild_specific = command is not None
        if command is None:
            command = tree.get_command(name, type=kind)
        if command is None:
            raise DiscordWouldRefuse(f"no {kind.name} command {name!r} is registered where it was used")
        return command, command.to_dict(tree), guild_specific

    def _check_available(
        self, schema: Payload, guild_id: int | None, channel_id: int, user_id: int, guild_specific: bool
    ) -> None:
        """What Discord checks before it lets a user invoke a command."""
        if guild_id is None:
            contexts = schema.get("contexts")
            dm_ok = (1 in contexts) if contexts is not None else schema.get("dm_permission", True)
            if guild_specific or not dm_ok:
                raise DiscordWouldRefuse(f"/{schema['name']} is not available in DMs")
            return
        contexts = schema.get("contexts")
        if contexts is not None and 0 not in contexts:
            raise DiscordWouldRefuse(f"/{schema['name']} is not available in servers")
        required = schema.get("default_member_permissions")
        perms = self.permissions_for(channel_id, user_id) or discord.Permissions.none()
        if (
            required is not None
            and (perms.value & int(required)) != int(required)
            and not perms.administrator
        ):
            raise DiscordWouldRefuse(f"/{schema['name']} is hidden from members without {required}")

    def _resolve(
        self,
        kind: int,
        value: Any,
        resolved: Payload,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        spec: Payload,
    ) -> Any:
        """Encode an option value of an entity type and fill `resolved` like Discord."""
        server = self.server
        if kind == 11:
            upload = Upload.coerce(value)
            attachment_id = server.ids.next()
            att = attachment_payload(
                attachment_id,
                channel_id,
                upload.filename,
                upload.data,
                content_type=upload.content_type,
                description=upload.description,
                ephemeral=True,
            )
            server.add_cdn(att, upload.data)
            resolved.setdefault("attachments", {})[str(attachment_id)] = att
            return str(attachment_id)
        target = _id(value)
        if kind == 9:
            kind = 8 if guild_id is not None and target in server.roles[guild_id] else 6
        if kind == 6:
            if target not in server.users:
                raise ValueError(f"unknown user {value!r}")
            resolved.setdefault("users", {})[str(target)] = clone(server.users[target])
            member = None if guild_id is None else server.member(guild_id, target)
            if member is not None:
                perms = self.permissions_for(channel_id, target) or discord.Permissions.none()
                resolved.setdefault("members", {})[str(target)] = {
                    **{k: v for k, v in clone(member).items() if k != "user"},
                    "permissions": str(perms.value),
                }
        elif kind == 8:
            if guild_id is None:
                raise DiscordWouldRefuse("roles cannot be picked outside a server")
            if target not in server.roles[guild_id]:
                raise ValueError(f"unknown role {value!r}")
            resolved.setdefault("roles", {})[str(target)] = clone(server.roles[guild_id][target])
        elif kind == 7:
            channel = server.channels.get(target)
            if channel is None:
                raise ValueError(f"unknown channel {value!r}")
            if spec.get("channel_types") and channel["type"] not in spec["channel_types"]:
                raise DiscordWouldRefuse(f"channel type {channel['type']} not allowed for {spec['name']!r}")
            perms = self.permissions_for(target, user_id) or discord.Permissions.none()
            resolved.setdefault("channels", {})[str(target)] = {
                **clone(channel),
                "permissions": str(perms.value),
            }
        return str(target)

    def _encode_options(
        self,
        specs: Sequence[Payload],
        values: Mapping[str, Any],
        aliases: Mapping[str, str],
        resolved: Payload,
        *,
        guild_id: int | None,
        channel_id: int,
        user_id: int,
        validate: bool = True,
    ) -> list[Payload]:
        by_name = {spec["name"]: spec for spec in specs}
        given = {}
        for key, value in values.items():
            name = key if key in by_name else aliases.get(key, key)
            if name not in by_name:
                raise ValueError(f"no option {key!r}; options are {sorted(by_name)}")
            if value is not None:
                given[name] = value
        out = []
        for spec in specs:
            name, kind = spec["name"], spec["type"]
            if name not in given:
                if validate and spec.get("required"):
                    raise DiscordWouldRefuse(f"required option {name!r} missing")
                continue
            value = given[name]
            if isinstance(value, app_commands.Choice):
                value = value.value
            choices = spec.get("choices")
            if choices and validate:
                by_choice_name = {c["name"]: c["value"] for c in choices}
                if value not in by_choice_name.values():
                    if value not in by_choice_name:
                        raise DiscordWouldRefuse(f"{value!r} is not a choice of {name!r}: {by_choice_name}")
                    value = by_choice_name[value]
            if kind in (6, 7, 8, 9, 11):
                value = self._resolve(kind, value, resolved, guild_id, channel_id, user_id, spec)
            elif kind == 3:
                value = str(value)
                if validate and not spec.get("min_length", 0) <= len(value) <= spec.get("max_length", 6000):
                    raise DiscordWouldRefuse(f"{name!r} length {len(value)} out of range")
            elif kind in (4, 10):
                value = int(value) if kind == 4 else float(value)
                low, high = spec.get("min_value"), spec.get("max_value")
                if validate and ((low is not None and value < low) or (high is not None and value > high)):
                    raise DiscordWouldRefuse(f"{name!r}={value} outside [{low}, {high}]")
            elif kind == 5:
                value = bool(value)
            out.append({"name": name, "type": kind, "value": value})
        return out

    def _slash_data(
        self,
        command: str,
        options: Mapping[str, Any],
        *,
        user: discord.abc.User,
        channel_id: int,
        focused: tuple[str, str] | None = None,
    ) -> Payload:
        guild_id = self.server.guild_of(channel_id)
        parts = command.lstrip("/").split()
        root, schema, guild_specific = self._find_command(
            parts[0], guild_id, discord.AppCommandType.chat_input
        )
        self._check_available(schema, guild_id, channel_id, user.id, guild_specific)
        node, obj, path = schema, root, []
        for part in parts[1:]:
            sub = next(
                (o for o in node.get("options", []) if o["type"] in (1, 2) and o["name"] == part), None
            )
            if sub is None:
                raise ValueError(f"/{command}: no subcommand {part!r}")
            node, obj = sub, obj.get_command(part)
            path.append((part, sub["type"]))
        if any(o["type"] in (1, 2) for o in node.get("options", [])):
            raise ValueError(f"/{command} is a group: name a subcommand")
        aliases = {p.name: p.display_name for p in obj.parameters}
        resolved: Payload = {}
        specs = node.get("options", [])
        rest = {k: v for k, v in options.items() if focused is None or aliases.get(k, k) != focused[0]}
        encoded = self._encode_options(
            specs,
            rest,
            aliases,
            resolved,
            guild_id=guild_id,
            channel_id=channel_id,
            user_id=user.id,
            validate=focused is None,
        )
        if focused is not None:
            name = aliases.get(focused[0], focused[0])
            spec = next((s for s in specs if s["name"] == name), None)
            if spec is None or not spec.get("autocomplete"):
                raise ValueError(f"/{command} option {focused[0]!r} has no autocomplete")
            encoded.append({"name": name, "type": spec["type"], "value": focused[1], "focused": True})
        for name, kind in reversed(path):
            encoded = [{"name": name, "type": kind, "options": encoded}]
        data: Payload = {
            "id": str(self.server.command_id(guild_id if guild_specific else None, parts[0], 1)),
            "name": parts[0],
            "type": 1,
            "options": encoded,
        }
        if resolved:
            data["resolved"] = resolved
        if guild_specific:
            data["guild_id"] = str(guild_id)
        return data

    async def slash(
        self,
        command: str,
        options: Mapping[str, Any] | None = None,
        *,
        user: discord.abc.User,
        channel: Any,
        locale: str = "en-US",
        settle: bool = True,
    ) -> InteractionRecord:
        """Invoke `/command [subcommand]` with options (attachments as Upload or (name, bytes) tuples)."""
        channel_id = _id(channel)
        data = self._slash_data(command, options or {}, user=user, channel_id=channel_id)
        payload, record = self._interaction(2, data, user=user, channel_id=channel_id, locale=locale)
        return await self._deliver_interaction(payload, record, settle)

    async def autocomplete(
        self,
        command: str,
        option: str,
        value: str,
        *,
        user: discord.abc.User,
        channel: Any,
        options: Mapping[str, Any] | None = None,
        locale: str = "en-US",
    ) -> list[app_commands.Choice[Any]]:
        """Type `value` into an autocomplete option; returns the choices the bot offered."""
        channel_id = _id(channel)
        data = self._slash_data(
            command, options or {}, user=user, channel_id=channel_id, focused=(option, value)
        )
        payload, record = self._interaction(4, data, user=user, channel_id=channel_id, locale=locale)
        await self._deliver_interaction(payload, record, True)
        if record.choices is None:
            raise AssertionError(f"the bot did not answer autocomplete for /{command} {option}")
        return record.choices

    async def context_menu(
        self,
        name: str,
        target: Any,
        *,
        user: discord.abc.User,
        channel: Any = None,
        locale: str = "en-US",
        settle: bool = True,
    ) -> InteractionRecord:
        """Run a message (target is a message) or user (target is a user/member) context-menu command."""
        server = self.server
        is_user = isinstance(target, discord.abc.User)
        resolved: Payload = {}
        if is_user:
            if channel is None:
                raise ValueError("a user context menu needs channel=")
            channel_id = _id(channel)
            kind = discord.AppCommandType.user
        else:
            message = self._message_payload(target)
            channel_id = int(message["channel_id"]) if channel is None else _id(channel)
            kind = discord.AppCommandType.message
            resolved["messages"] = {message["id"]: clone(message)}
        guild_id = server.guild_of(channel_id)
        _, schema, guild_specific = self._find_command(name, guild_id, kind)
        self._check_available(schema, guild_id, channel_id, user.id, guild_specific)
        if is_user:
            self._resolve(6, target, resolved, guild_id, channel_id, user.id, {})
        data: Payload = {
            "id": str(server.command_id(guild_id if guild_specific else None, name, kind.value)),
            "name": name,
            "type": kind.value,
            "target_id": str(_id(target)),
            "resolved": resolved,
        }
        if guild_specific:
            data["guild_id"] = str(guild_id)
        payload, record = self._interaction(2, data, user=user, channel_id=channel_id, locale=locale)
        return await self._deliver_interaction(payload, record, settle)

    async def click(
        self,
        message: Any,
        custom_id: str | None = None,
        *,
        user: discord.abc.User,
        label: str | None = None,
        values: Sequence[Any] | None = None,
        locale: str = "en-US",
        settle: bool = True,
    ) -> InteractionRecord:
        """Press a button (by custom_id or label) or choose `values` in a select on a bot message."""
        data = self._message_payload(message)
        components = list(walk_components(data.get("components", [])))
        component = next(
            (
                c
                for c in components
                if c.get("custom_id") is not None
                and (c.get("custom_id") == custom_id if custom_id is not None else c.get("label") == label)
            ),
            None,
        )
        if component is None:
            known = [(c.get("custom_id"), c.get("label")) for c in components if c.get("custom_id")]
            raise ValueError(f"no component {custom_id or label!r} on message {data['id']}; found {known}")
        if component.get("disabled"):
            raise DiscordWouldRefuse(f"component {component['custom_id']!r} is disabled")
        kind = component["type"]
        inner: Payload = {"custom_id": component["custom_id"], "component_type": kind}
        channel_id = int(data["channel_id"])
        if kind in SELECT_TYPES:
            chosen = list(values or [])
            low, high = component.get("min_values", 1), component.get("max_values", 1)
            if not low <= len(chosen) <= high:
                raise DiscordWouldRefuse(f"select needs {low}..{high} values, got {len(chosen)}")
            if kind == 3:
                allowed = {o["value"] for o in component.get("options", [])}
                if not set(map(str, chosen)) <= allowed:
                    raise DiscordWouldRefuse(f"{chosen} not among options {sorted(allowed)}")
                inner["values"] = [str(v) for v in chosen]
            else:
                resolved: Payload = {}
                entity = {5: 6, 6: 8, 7: 9, 8: 7}[kind]
                guild_id = self.server.guild_of(channel_id)
                inner["values"] = [
                    self._resolve(entity, v, resolved, guild_id, channel_id, user.id, component)
                    for v in chosen
                ]
                inner["resolved"] = resolved
        elif values is not None:
            raise ValueError("values= is only for selects")
        payload, record = self._interaction(
            3, inner, user=user, channel_id=channel_id, locale=locale, message=data
        )
        return await self._deliver_interaction(payload, record, settle)

    async def select(
        self,
        message: Any,
        custom_id: str,
        values: Sequence[Any],
        *,
        user: discord.abc.User,
        settle: bool = True,
    ) -> InteractionRecord:
        """Choose values in a select menu (string, user, role, mentionable or channel select)."""
        return await self.click(message, custom_id, user=user, values=values, settle=settle)

    async def submit_modal(
        self,
        values: Mapping[str, Any],
        modal: SentModal | None = None,
        *,
        user: discord.abc.User | None = None,
        channel: Any = None,
        locale: str = "en-US",
        settle: bool = True,
    ) -> InteractionRecord:
        """Fill and submit a modal the bot opened (default: the last one); keys are labels or custom_ids."""
        if modal is None:
            if not self.server.modals:
                raise AssertionError("the bot has not opened any modal")
            modal = self.server.modals[-1]
        remaining = dict(values)

        def answer(label: str, comp: Payload) -> Payload:
            key = comp["custom_id"] if comp["custom_id"] in remaining else label
            given = remaining.pop(key, None)
            if comp["type"] == 4:
                text = "" if given is None else str(given)
                if comp.get("required", True) and not text:
                    raise DiscordWouldRefuse(f"modal field {label!r} is required")
                if text and not comp.get("min_length", 0) <= len(text) <= comp.get("max_length", 4000):
                    raise DiscordWouldRefuse(f"modal field {label!r} length {len(text)} out of range")
                return {"type": 4, "id": comp.get("id", 0), "custom_id": comp["custom_id"], "value": text}
            chosen = [] if given is None else [str(v) for v in given]
            return {
                "type": comp["type"],
                "id": comp.get("id", 0),
                "custom_id": comp["custom_id"],
                "values": chosen,
            }

        submitted: list[Payload] = []
        for comp in modal.components:
            if comp.get("type") == 1:
                row = [answer(lbl, inner) for lbl, inner in modal_inputs([comp])]
                submitted.append({"type": 1, "id": comp.get("id", 0), "components": row})
            elif comp.get("type") == 18:
                ((lbl, inner),) = modal_inputs([comp])
                submitted.append({"type": 18, "id": comp.get("id", 0), "component": answer(lbl, inner)})
        if remaining:
            raise ValueError(f"modal has no fields {sorted(remaining)}; fields are {sorted(modal.fields)}")
        opener = modal.interaction
        user = user or self._user_obj(opener.user_id)
        channel_id = opener.channel_id if channel is None else _id(channel)
        message = None
        if opener.component_message_id is not None:
            message = self.server.find_message(opener.component_message_id)
        data = {"custom_id": modal.custom_id, "components": submitted}
        payload, record = self._interaction(
            5, data, user=user, channel_id=channel_id, locale=locale, message=message
        )
        return await self._deliver_interaction(payload, record, settle)

    def record(self, interaction: discord.Interaction | int) -> InteractionRecord:
        """The record of an interaction (e.g. one the bot's code captured)."""
        return self.server.interactions[_id(interaction)]

    def _user_obj(self, user_id: int) -> discord.User:
        return self.state.store_user(clone(self.server.users[user_id]))

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
