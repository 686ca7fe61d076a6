"""The one error path: UserErrors become short replies, anything else a generic message with an id."""

from __future__ import annotations

import logging
import secrets

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserError
from bot.i18n import t
from bot.ui import NO_MENTIONS, locale_of

log = logging.getLogger("teambot.errors")
# Where Discord's UI name differs from the flag's own words.
_DISCORD_NAMES = {
    "manage_guild": "Manage Server",
    "read_messages": "View Channels",
    "view_channel": "View Channels",
}


def permission_names(permissions: list[str], locale: object = None) -> str:
    """Discord permission flags ("manage_guild") as the names Discord shows, in the locale's language."""
    names = [_DISCORD_NAMES.get(p, p.replace("_", " ").title()) for p in permissions]
    return t(", ", locale).join(t(name, locale) for name in names)


def describe(exc: BaseException, *, context: str = "", locale: object = None) -> str:
    """What to tell the user about an exception, in the locale's language; unexpected ones get an error id."""
    original = getattr(exc, "original", None) or getattr(exc, "__cause__", None)
    if isinstance(exc, app_commands.CommandInvokeError | commands.CommandInvokeError) and original:
        exc = original
    if isinstance(exc, UserError):
        return exc.localized(locale)
    if isinstance(exc, app_commands.MissingPermissions | commands.MissingPermissions):
        needed = permission_names(exc.missing_permissions, locale)
        return t("You need the {needed} permission to do that.", locale, needed=needed)
    if isinstance(exc, app_commands.BotMissingPermissions | commands.BotMissingPermissions):
        needed = permission_names(exc.missing_permissions, locale)
        return t("I need the {needed} permission here to do that.", locale, needed=needed)
    if isinstance(exc, app_commands.NoPrivateMessage | commands.NoPrivateMessage):
        return t("This command only works in a server.", locale)
    if isinstance(exc, app_commands.CommandOnCooldown):
        return t("Slow down a little: try again in {seconds:.0f} seconds.", locale, seconds=exc.retry_after)
    if isinstance(exc, app_commands.CheckFailure):
        return str(exc) or t("You can't use this command here.", locale)
    error_id = secrets.token_hex(4)
    log.error("error %s %s", error_id, context, exc_info=exc)
    return t(
        "Something went wrong on my side (error id `{error_id}`). It has been logged; please try again.",
        locale,
        error_id=error_id,
    )


async def reply_error(interaction: discord.Interaction, text: str) -> None:
    """Send an error to an interaction, ephemeral, whether or not it was answered already."""
    try:
        if interaction.response.is_done():
            # Replace the "thinking…" placeholder (or the earlier answer) rather than leave it behind.
            await interaction.edit_original_response(
                content=f"⚠️ {text}", embeds=[], attachments=[], view=None, allowed_mentions=NO_MENTIONS
            )
        else:
            await interaction.response.send_message(text, ephemeral=True, allowed_mentions=NO_MENTIONS)
    except discord.HTTPException as exc:
        log.warning("could not deliver an error message: %s", exc.status)


class ErrorsCog(commands.Cog):
    """Installs the tree's error handler so every command shares one error path."""

    def __init__(self, bot: commands.Bot) -> None:
        self.bot = bot
        self._previous = bot.tree.on_error
        bot.tree.on_error = self.on_app_command_error

    async def cog_unload(self) -> None:
        """Restore the default handler."""
        self.bot.tree.on_error = self._previous

    async def on_app_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Reply to a failed slash command."""
        name = interaction.command.qualified_name if interaction.command else "?"
        await reply_error(interaction, describe(error, context=f"in /{name}", locale=locale_of(interaction)))
