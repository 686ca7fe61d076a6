"""FakeDiscord user actions: posting messages, raw events, buttons, selects and modals."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

import discord

from tests.fakes.discord_commands import CommandActions
from tests.fakes.discord_payloads import (
    InteractionRecord,
    Payload,
    SentModal,
    Upload,
    attachment_payload,
    clone,
    message_payload,
    modal_inputs,
    walk_components,
)
from tests.fakes.discord_tracking import DiscordWouldRefuse, _id

SELECT_TYPES = (3, 5, 6, 7, 8)


class UserActions(CommandActions):
    """What users do: post messages, press components, submit modals."""

    # ------------------------------------------------------------------ messages from users

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
        forwarding: Any = None,
    ) -> discord.Message | None:
        """A user posts a message; returns the discord.Message the bot received (None if it can't see it).
        With `forwarding`, the message is a forward of that one (see forward_message)."""
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
        if forwarding is not None:
            data.update(_forward(self._message_payload(forwarding)))
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

    async def forward_message(
        self, channel: Any, author: discord.abc.User, original: Any, *, settle: bool = True
    ) -> discord.Message | None:
        """A user forwards `original` into `channel` as Discord's Forward does: a message with no text or
        files of its own that carries a snapshot of the original's (its text, embeds and files)."""
        return await self.send_message(channel, author, settle=settle, forwarding=original)

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

    # ------------------------------------------------------------------ components and modals

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


_SNAPSHOT_KEYS = (
    "type", "content", "embeds", "attachments", "timestamp", "edited_timestamp", "flags", "mentions",
    "mention_roles", "components",
)


def _forward(source: Payload) -> Payload:
    """The fields that make a message a forward of `source` (message reference type 1, FORWARD)."""
    reference = {"type": 1, "message_id": source["id"], "channel_id": source["channel_id"]}
    if "guild_id" in source:
        reference["guild_id"] = source["guild_id"]
    snapshot = {key: clone(source[key]) for key in _SNAPSHOT_KEYS if key in source}
    return {"message_reference": reference, "message_snapshots": [{"message": snapshot}]}
