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
import logging
from typing import Any

import discord
from discord.http import Route

from tests.fakes.discord_actions import UserActions
from tests.fakes.discord_payloads import (
    Call,
    InteractionRecord,
    SentFile,
    SentMessage,
    SentModal,
    Upload,
    clone,
)
from tests.fakes.discord_server import FakeDiscordServer, FakeSession
from tests.fakes.discord_tracking import DiscordWouldRefuse, SettleTimeout, _TaskTracker
from tests.fakes.discord_world import DEFAULT_BOT_PERMISSIONS, DEFAULT_EVERYONE_PERMISSIONS

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

log = logging.getLogger(__name__)


class FakeDiscord(UserActions):
    """A bot bound to a fake Discord: build the world, deliver events, read what the bot did."""

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> FakeDiscord:
        """Log the bot in (its setup_hook runs), load the world into its cache, dispatch on_ready."""
        self._attach()
        try:
            await self._login()
        except BaseException:
            await self.close()
            raise
        return self

    def _attach(self) -> None:
        """Track the tasks the bot starts (to settle and cancel them) and capture discord.py's log."""
        loop = asyncio.get_running_loop()
        factory = loop.get_task_factory()
        if not isinstance(factory, _TaskTracker):
            factory = _TaskTracker(factory)
            loop.set_task_factory(factory)
        factory.users += 1
        self._tracker = factory
        logging.getLogger("discord").addHandler(self._log_handler)

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
        """Replace the bot process (e.g. to test persistent views); Discord's world stays. After close()
        too: the new bot's tasks are tracked again, so actions settle as before."""
        await self._shutdown_bot()
        self.bot = bot
        self._events = {}
        if self._tracker is None:  # closed meanwhile
            self._attach()
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
