"""Moderation: when a server switches it on, text in and out goes through the provider's moderation."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol

from bot.config import Settings
from bot.errors import UserError
from bot.llm import LLM
from bot.text import truncate

log = logging.getLogger(__name__)

REFUSED_INPUT = "I can't help with that message. Please rephrase it and try again."
REFUSED_OUTPUT = "I can't show the answer I wrote for that. Please try asking in a different way."
EXCERPT_CHARS = 300


class ModerationPolicy(Protocol):
    """Where moderation is on, and where moderators want to hear about it (the server settings)."""

    async def enabled(self, guild_id: int | None) -> bool:
        """Whether text in this server (None: DMs) is checked."""
        ...

    async def alert_channel(self, guild_id: int | None) -> int | None:
        """The channel that receives a note when something is flagged, if any."""
        ...


@dataclass(frozen=True, slots=True)
class EnvModerationPolicy:
    """The environment's MODERATION switch for every server, and no alert channel."""

    on: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> EnvModerationPolicy:
        """The policy MODERATION sets."""
        return cls(bool(getattr(settings, "moderation", False)))

    async def enabled(self, guild_id: int | None) -> bool:
        """The MODERATION setting."""
        return self.on

    async def alert_channel(self, guild_id: int | None) -> int | None:
        """No alert channel without server settings."""
        return None


@dataclass(frozen=True, slots=True)
class Subject:
    """Whose text is checked, and where: for the refusal, the usage record and the moderators' note."""

    guild_id: int | None
    channel_id: int
    user_id: int
    user_name: str
    feature: str = "chat"
    message_id: int | None = None


@dataclass(frozen=True, slots=True)
class ModerationAlert:
    """A note for a server's moderators: what was flagged, whose, where; never sent to the author."""

    alert_channel_id: int
    subject: Subject
    direction: str  # "input" (the user's text) or "output" (the model's answer)
    categories: list[str] = field(default_factory=list)
    excerpt: str = ""


AlertSink = Callable[[ModerationAlert], Awaitable[None]]


class Moderator:
    """Checks text with the provider when the policy says so; flagged text becomes a neutral UserError.

    A failing moderation endpoint refuses too (the provider's error is shown): a server that asked
    for moderation never gets unchecked text.
    """

    def __init__(self, llm: LLM, policy: ModerationPolicy, *, alerts: AlertSink | None = None) -> None:
        self.llm = llm
        self.policy = policy
        self.alerts = alerts

    async def active(self, guild_id: int | None) -> bool:
        """Whether text in this server is checked right now."""
        return await self.policy.enabled(guild_id)

    async def screen_input(self, text: str, subject: Subject) -> bool:
        """Refuse flagged user text (UserError kind "moderated"); returns whether moderation is on here."""
        if not await self.active(subject.guild_id):
            return False
        await self._screen(text, subject, "input")
        return True

    async def screen_output(self, text: str, subject: Subject) -> None:
        """Refuse a flagged model answer (UserError kind "moderated_output") before anyone sees it."""
        if await self.active(subject.guild_id):
            await self._screen(text, subject, "output")

    async def _screen(self, text: str, subject: Subject, direction: str) -> None:
        if not text.strip():
            return
        verdict = await self.llm.moderate(text)
        if not verdict.flagged:
            return
        log.info(
            "moderation flagged %s of user %s in guild %s: %s",
            direction, subject.user_id, subject.guild_id, ",".join(verdict.categories),
        )
        await self._alert(subject, direction, verdict.categories, text)
        if direction == "input":
            raise UserError(REFUSED_INPUT, kind="moderated")
        raise UserError(REFUSED_OUTPUT, kind="moderated_output")

    async def _alert(self, subject: Subject, direction: str, categories: list[str], text: str) -> None:
        if self.alerts is None:
            return
        channel = await self.policy.alert_channel(subject.guild_id)
        if channel is None:
            return
        alert = ModerationAlert(channel, subject, direction, categories, truncate(text, EXCERPT_CHARS))
        try:
            await self.alerts(alert)
        except Exception:  # a lost note must not turn a refusal into a crash
            log.exception("could not deliver a moderation alert to channel %s", channel)
