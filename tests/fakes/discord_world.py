"""FakeDiscord world builders: users, guilds, roles, members, channels, threads and DMs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import discord

from tests.fakes.discord_payloads import (
    Payload,
    SentMessage,
    clone,
    dm_payload,
    guild_channel_payload,
    member_payload,
    overwrite_payload,
    role_payload,
    thread_payload,
    user_payload,
)
from tests.fakes.discord_tracking import HarnessCore, _id

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


class WorldBuilders(HarnessCore):
    """Build Discord's world on the server and in the bot's cache."""

    # ------------------------------------------------------------------ world builders

    def _guild_obj(self, guild: Any) -> discord.Guild:
        found = self.bot.get_guild(_id(guild))
        if found is None:
            raise ValueError(f"unknown guild {guild!r}")
        return found

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

    def _message_payload(self, message: Any) -> Payload:
        if isinstance(message, SentMessage):
            return message.payload
        found = self.server.find_message(_id(message))
        if found is None:
            raise ValueError(f"unknown message {message!r}")
        return found
