"""Team controls: /settings show|set, /usage, and leaving servers that are not on the allow-list."""

from __future__ import annotations

import asyncio
import io
import logging

import discord
from discord import app_commands
from discord.ext import commands

from bot.errors import UserError
from bot.limits import Budget, Limits
from bot.permissions import guild_allowed, require_manage_guild
from bot.server_settings import KEYS, GuildConfig, GuildFacts, ServerSettings, shown
from bot.store import UsageTotals
from bot.text import truncate
from bot.ui import NO_MENTIONS
from bot.usage import Side, UsageReport, render_chart, usage_report
from cogs.access import interaction_caller

log = logging.getLogger(__name__)

LEAVE_MESSAGE = (
    "Hi! I'm a private team bot and this server isn't on my list, so I'm leaving. "
    "If you expected me here, ask the person who runs me to add this server."
)
SECTIONS = {
    "Models": ("chat_model", "image_model"),
    "Documents": ("docs_in_chat", "upload_channel"),
    "Who may use what": tuple(k for k in KEYS if k.endswith("_roles")),
    "Limits (per UTC day / calendar month)": tuple(k for k in KEYS if KEYS[k].kind == "limit"),
    "Other": ("moderation", "moderation_alert_channel", "reply_language"),
}
SUGGESTIONS = {"switch": ["on", "off"], "language": ["auto", "en", "ja"], "limit": ["unlimited"]}


def guild_facts(guild: discord.Guild | None) -> GuildFacts:
    """A server's text channels and roles, for validating and showing settings."""
    if guild is None:
        return GuildFacts()
    channels = {c.id: c.name for c in guild.text_channels}
    roles = {r.id: r.name for r in guild.roles if not r.is_default()}
    return GuildFacts(channels, roles)


def settings_embed(config: GuildConfig, facts: GuildFacts, changes: list) -> discord.Embed:
    """Every setting with its value, marking the environment defaults, and the latest changes."""
    embed = discord.Embed(title="Server settings", colour=discord.Colour.blurple())
    for title, names in SECTIONS.items():
        lines = [
            f"**{name}**: {shown(KEYS[name], config.values[name], facts)}"
            + ("" if name in config.overridden else " · _default_")
            for name in names
        ]
        embed.add_field(name=title, value=truncate("\n".join(lines), 1024), inline=False)
    if changes:
        log_lines = [
            f"<t:{int(c.created_at)}:R> **{c.user_name}** set `{c.key}` to "
            f"{'the default' if c.new_value is None else shown(KEYS[c.key], c.new_value, facts)}"
            for c in changes
            if c.key in KEYS
        ]
        embed.add_field(name="Recent changes", value=truncate("\n".join(log_lines), 1024), inline=False)
    embed.set_footer(text="Change one with /settings set key: value: (value `default` resets it)")
    return embed


def _period(totals: UsageTotals, documents: int, left: str) -> str:
    return (
        f"Tokens: {totals.tokens_in:,} in · {totals.tokens_out:,} out\n"
        f"Images: {totals.images:,}\nDocuments indexed: {documents:,}\n{left}"
    )


def _left(limit: int, used: int, unit: str) -> str:
    return f"{max(0, limit - used):,} {unit} left" if limit else f"no {unit} limit"


def side_fields(embed: discord.Embed, who: str, side: Side) -> None:
    """Today and this month for a user or the server, with what is left of each budget."""
    b: Budget = side.budget
    tokens_left = "no token limit" if b.tokens_left is None else f"{b.tokens_left:,} tokens left"
    images_left = "no image limit" if b.images_left is None else f"{b.images_left:,} images left"
    embed.add_field(
        name=f"{who} · today", value=_period(b.today, side.documents_today, f"{tokens_left} · {images_left}")
    )
    embed.add_field(
        name=f"{who} · this month",
        value=_period(b.month, side.documents_month, _left(b.tokens_per_month, b.month.tokens, "tokens")),
    )


def usage_embed(report: UsageReport, name: str) -> discord.Embed:
    """The /usage answer: the user's and the server's figures, with the chart attached below."""
    embed = discord.Embed(title=f"Usage of {name}", colour=discord.Colour.blurple())
    side_fields(embed, name, report.user)
    if report.server is not None:
        side_fields(embed, "This server", report.server)
    embed.set_image(url="attachment://usage.png")
    return embed


class TeamCog(commands.Cog):
    """Server settings, usage and budgets, and the server allow-list."""

    settings = app_commands.Group(
        name="settings",
        description="Server settings for the bot (Manage Server)",
        guild_only=True,
        default_permissions=discord.Permissions(manage_guild=True),
    )

    def __init__(
        self, bot: commands.Bot, server: ServerSettings, limits: Limits, allowed_guilds: frozenset[int]
    ) -> None:
        self.bot = bot
        self.server = server
        self.limits = limits
        self.allowed_guilds = allowed_guilds

    # --- /settings --------------------------------------------------------------------------

    @settings.command(name="show", description="Show this server's settings and recent changes")
    async def settings_show(self, interaction: discord.Interaction) -> None:
        """Every setting, its value and whether it is the default; the latest changes."""
        require_manage_guild(interaction_caller(interaction).manage_guild, "Seeing the server settings")
        guild_id = _guild_id(interaction)
        config = await self.server.config(guild_id)
        changes = await self.server.history(guild_id)
        embed = settings_embed(config, guild_facts(interaction.guild), changes)
        await interaction.response.send_message(embed=embed, ephemeral=True, allowed_mentions=NO_MENTIONS)

    @settings.command(name="set", description="Change one server setting (value `default` resets it)")
    @app_commands.describe(key="The setting to change", value="Its new value, or `default`")
    async def settings_set(
        self,
        interaction: discord.Interaction,
        key: app_commands.Range[str, 1, 60],
        value: app_commands.Range[str, 1, 500],
    ) -> None:
        """Validate and store one setting; it applies at once and the change is logged."""
        require_manage_guild(interaction_caller(interaction).manage_guild, "Changing the server settings")
        change = await self.server.set(
            _guild_id(interaction),
            key,
            value,
            guild_facts(interaction.guild),
            user_id=interaction.user.id,
            user_name=interaction.user.display_name,
        )
        after = f"{change.after} (the default)" if change.is_default else change.after
        await interaction.response.send_message(
            f"✅ `{change.key}` is now {after} (it was {change.before}). It applies right away.",
            ephemeral=True,
            allowed_mentions=NO_MENTIONS,
        )

    @settings_set.autocomplete("key")
    async def _key_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        typed = current.strip().lower()
        found = [k for k in KEYS.values() if typed in k.name or typed in k.help.lower()]
        return [
            app_commands.Choice(name=truncate(f"{k.name} — {k.help}", 100), value=k.name) for k in found[:25]
        ]

    @settings_set.autocomplete("value")
    async def _value_choices(
        self, interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        key = KEYS.get(str(getattr(interaction.namespace, "key", "") or "").strip().lower())
        if key is None:
            return []
        typed = current.strip().lower()
        facts = guild_facts(interaction.guild)
        options: list[tuple[str, str]] = [(s, s) for s in SUGGESTIONS.get(key.kind, [])]
        if key.kind == "roles":
            options = [("everyone", "everyone"), *((f"@{n}", n) for n in facts.roles.values())]
        elif key.kind == "channel":
            options = [("none", "none"), *((f"#{n}", str(c)) for c, n in facts.channels.items())]
        elif key.kind == "model":
            config = await self.server.config(interaction.guild_id)
            options = [(config.values[key.name], config.values[key.name])]
        options.append(("default", "default"))
        matches = [(n, v) for n, v in options if typed in n.lower()] or options
        return [app_commands.Choice(name=truncate(n, 100), value=v[:100]) for n, v in matches[:25]]

    # --- /usage -----------------------------------------------------------------------------

    @app_commands.command(name="usage", description="Tokens and images used, and what is left of the budget")
    @app_commands.describe(user="Whose usage to show (someone else's needs Manage Server)")
    async def usage(self, interaction: discord.Interaction, user: discord.User | None = None) -> None:
        """The caller's (or, for managers, anyone's) usage today and this month, with a 30-day chart."""
        target = user or interaction.user
        if target.id != interaction.user.id:
            if interaction.guild_id is None:
                raise UserError("In DMs you can only see your own usage.", kind="forbidden")
            require_manage_guild(interaction_caller(interaction).manage_guild, "Seeing someone else's usage")
        await interaction.response.defer(thinking=True, ephemeral=True)
        report = await usage_report(self.limits, interaction.guild_id, target.id)
        png = await asyncio.to_thread(render_chart, report, label=target.display_name)
        await interaction.edit_original_response(
            embed=usage_embed(report, target.display_name),
            attachments=[discord.File(io.BytesIO(png), filename="usage.png")],
            allowed_mentions=NO_MENTIONS,
        )

    # --- the allow-list ---------------------------------------------------------------------

    @commands.Cog.listener()
    async def on_ready(self) -> None:
        """At start-up, leave every server that is not on ALLOWED_GUILD_IDS."""
        for guild in list(self.bot.guilds):
            await self.leave_unless_allowed(guild)

    @commands.Cog.listener()
    async def on_guild_join(self, guild: discord.Guild) -> None:
        """When added to a server that is not on ALLOWED_GUILD_IDS, say so and leave."""
        await self.leave_unless_allowed(guild)

    @commands.Cog.listener()
    async def on_guild_available(self, guild: discord.Guild) -> None:
        """A server that was unavailable at start-up (a Discord outage) is checked when it comes back;
        before the bot is ready, on_ready checks every server."""
        if self.bot.is_ready():
            await self.leave_unless_allowed(guild)

    async def leave_unless_allowed(self, guild: discord.Guild) -> None:
        """Leave a server that is not allowed, after a short note in its system channel when possible."""
        if guild_allowed(guild.id, self.allowed_guilds):
            return
        channel = guild.system_channel
        if channel is not None and channel.permissions_for(guild.me).send_messages:
            try:
                await channel.send(LEAVE_MESSAGE, allowed_mentions=NO_MENTIONS)
            except discord.HTTPException as exc:
                log.warning("could not say goodbye in server %s: %s", guild.id, exc.status)
        try:
            await guild.leave()
        except discord.HTTPException as exc:
            log.warning("could not leave server %s: %s", guild.id, exc.status)
            return
        log.info("left server %s (%s): it is not in ALLOWED_GUILD_IDS", guild.id, guild.name)


def _guild_id(interaction: discord.Interaction) -> int:
    if interaction.guild_id is None:
        raise UserError("Server settings only exist in a server.", kind="guild_only")
    return interaction.guild_id
