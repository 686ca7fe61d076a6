"""Moderation alerts: a note in the server's alert channel when moderation flags something."""

from __future__ import annotations

import logging

import discord
from discord.ext import commands

from bot.i18n import Msg, t
from bot.moderation import ModerationAlert, Moderator
from bot.ui import NO_MENTIONS

log = logging.getLogger(__name__)


def jump_link(alert: ModerationAlert) -> str:
    """A link to the flagged message, or to the channel when there is no message (a slash command)."""
    s = alert.subject
    place = f"{s.guild_id}/{s.channel_id}" + (f"/{s.message_id}" if s.message_id else "")
    return f"https://discord.com/channels/{place}"


def alert_text(alert: ModerationAlert, locale: object = None) -> str:
    """The moderators' note: whose text, where, which categories, and an excerpt behind a spoiler."""
    s = alert.subject
    template = (
        "🛡️ Moderation flagged a message from <@{user}> ({name}) in <#{channel}> ({feature}): "
        "{categories}. It was refused. {link}"
        if alert.direction == "input"
        else "🛡️ Moderation flagged the bot's answer to <@{user}> ({name}) in <#{channel}> ({feature}): "
        "{categories}. It was not shown. {link}"
    )
    text = t(
        template,
        locale,
        user=s.user_id,
        name=s.user_name,
        channel=s.channel_id,
        feature=s.feature,
        categories=", ".join(alert.categories) or Msg("no category given"),
        link=jump_link(alert),
    )
    excerpt = discord.utils.escape_markdown(alert.excerpt)
    return f"{text}\n||{excerpt}||"[:2000]


class ModerationAlertsCog(commands.Cog):
    """Delivers the Moderator's alerts to the alert channel of the server where text was flagged."""

    def __init__(self, bot: commands.Bot, moderator: Moderator) -> None:
        self.bot = bot
        self.moderator = moderator

    async def cog_load(self) -> None:
        """Start receiving alerts."""
        self.moderator.alerts = self.send_alert

    async def cog_unload(self) -> None:
        """Stop receiving alerts."""
        if self.moderator.alerts == self.send_alert:
            self.moderator.alerts = None

    async def send_alert(self, alert: ModerationAlert) -> None:
        """Post the note, only in a text channel of the same server (never pings anyone)."""
        channel = self.bot.get_channel(alert.alert_channel_id)
        guild = getattr(channel, "guild", None)
        wanted = alert.subject.guild_id
        if guild is None or guild.id != wanted or not isinstance(channel, discord.abc.Messageable):
            log.warning("moderation alert channel %s is not in guild %s", alert.alert_channel_id, wanted)
            return
        await channel.send(alert_text(alert, guild.preferred_locale), allowed_mentions=NO_MENTIONS)
