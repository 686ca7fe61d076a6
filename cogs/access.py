"""Discord to plain values for the core's role gates and limits: who is calling, with which roles."""

from __future__ import annotations

import discord

from bot.limits import Limits
from bot.permissions import Caller


def role_names(guild: discord.Guild | None) -> dict[int, str]:
    """A server's roles by id (for refusals that name them)."""
    return {} if guild is None else {role.id: role.name for role in guild.roles}


def interaction_caller(interaction: discord.Interaction) -> Caller:
    """The caller of a command, button or menu: Manage Server as resolved by Discord for this interaction."""
    user = interaction.user
    roles = frozenset(role.id for role in getattr(user, "roles", ()))
    manage = interaction.guild_id is not None and interaction.permissions.manage_guild
    return Caller(interaction.guild_id, user.id, roles, manage)


def message_caller(message: discord.Message) -> Caller:
    """The author of a message (a mention, a reply or an upload)."""
    author = message.author
    if message.guild is None or not isinstance(author, discord.Member):
        return Caller(None if message.guild is None else message.guild.id, author.id)
    roles = frozenset(role.id for role in author.roles)
    return Caller(message.guild.id, author.id, roles, author.guild_permissions.manage_guild)


async def admit_interaction(
    limits: Limits, feature: str, interaction: discord.Interaction, *, images: int = 0
) -> None:
    """Role gate, budgets and rate for a command; raises UserError before anything is shown."""
    await limits.admit(
        feature, interaction_caller(interaction), role_names=role_names(interaction.guild), images=images
    )


async def admit_message(limits: Limits, feature: str, message: discord.Message) -> None:
    """Role gate, budgets and rate for a message the bot would answer; raises UserError."""
    await limits.admit(feature, message_caller(message), role_names=role_names(message.guild))
