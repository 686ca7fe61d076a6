"""FakeDiscord interactions: building interaction payloads and invoking application commands."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import discord
from discord import app_commands

from tests.fakes.discord_payloads import (
    InteractionRecord,
    Payload,
    Upload,
    attachment_payload,
    clone,
)
from tests.fakes.discord_tracking import DiscordWouldRefuse, _id
from tests.fakes.discord_world import DM_PERMISSIONS, WorldBuilders


class CommandActions(WorldBuilders):
    """Deliver interactions: slash commands, autocomplete and context menus."""

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
