"""REST handlers of the fake Discord server for application commands, interactions and webhooks."""

from __future__ import annotations

import time

from discord import app_commands

from tests.fakes.discord_payloads import (
    EPHEMERAL,
    InteractionRecord,
    Payload,
    SentMessage,
    SentModal,
    clone,
)
from tests.fakes.discord_server_messages import BotMessages
from tests.fakes.discord_server_transport import (
    Answer,
    Refused,
    _Request,
    error,
    invalid,
)


class InteractionHandlers(BotMessages):
    """REST routes for command registration, interaction callbacks and interaction webhooks."""

    # ------------------------------------------------------------------ REST: application commands

    def command_id(self, guild_id: int | None, name: str, kind: int) -> int:
        """Stable id Discord gives a command."""
        key = (guild_id, name, kind)
        if key not in self.command_ids:
            self.command_ids[key] = self.ids.next()
        return self.command_ids[key]

    def _r_put_commands(self, req: _Request, app_id: str, guild_id: str | None = None) -> Answer:
        gid = None if guild_id is None else int(guild_id)
        out = []
        for cmd in req.body:
            kind = cmd.get("type", 1)
            cid = self.command_id(gid, cmd["name"], kind)
            perms = cmd.get("default_member_permissions")
            entry = {
                "description": "",
                **cmd,
                "id": str(cid),
                "application_id": app_id,
                "version": str(cid),
                "type": kind,
                "default_member_permissions": None if perms is None else str(perms),
            }
            if gid is not None:
                entry["guild_id"] = guild_id
            out.append(entry)
        self.commands[gid] = out
        return 200, clone(out)

    def _r_get_commands(self, req: _Request, app_id: str, guild_id: str | None = None) -> Answer:
        return 200, clone(self.commands.get(None if guild_id is None else int(guild_id), []))

    # ------------------------------------------------------------------ REST: interactions

    def _interaction(self, token: str) -> InteractionRecord | None:
        return next((r for r in self.interactions.values() if r.token == token), None)

    def _r_interaction_callback(self, req: _Request, interaction_id: str, token: str) -> Answer:
        rec = self.interactions.get(int(interaction_id))
        if rec is None or rec.token != token or time.monotonic() - rec.created_at > self.interaction_deadline:
            return error(404, 10062, "Unknown interaction")
        if rec.response_type is not None:
            return error(400, 40060, "Interaction has already been acknowledged.")
        body = req.body or {}
        kind, data = int(body["type"]), body.get("data") or {}
        ephemeral = bool(int(data.get("flags") or 0) & EPHEMERAL)
        resource: Payload = {"type": kind}
        if kind in (4, 5):
            app_kind = 0
            if rec.type == 2:
                app_kind = 20 if rec.payload["data"].get("type", 1) == 1 else 23
            made = self.create_bot_message(
                rec.channel_id,
                data,
                req.files,
                interaction=rec,
                ephemeral=ephemeral,
                kind=app_kind,
                loading=kind == 5,
            )
            rec.original = made
            resource["message"] = clone(made.payload)
        elif kind in (6, 7):
            if rec.component_message_id is None:
                return error(400, 40004, "Interaction type does not support this response")
            target = self.sent_by_id.get(rec.component_message_id)
            if kind == 7 and target is not None:
                resource["message"] = self.edit_bot_message(target, data, req.files)
            rec.original = target
            ephemeral = bool(target and target.ephemeral)
        elif kind == 8:
            choices = data.get("choices", [])
            if (
                len(choices) > 25
                or any(not 1 <= len(c["name"]) <= 100 for c in choices)
                or any(isinstance(c["value"], str) and len(c["value"]) > 100 for c in choices)
            ):
                raise invalid("data.choices", "BASE_TYPE_MAX_LENGTH", "At most 25 choices, names 1-100 chars")
            rec.choices = [app_commands.Choice(name=c["name"], value=c["value"]) for c in choices]
        elif kind == 9:
            if len(data.get("title", "")) > 45 or not 1 <= len(data.get("components", [])) <= 5:
                raise invalid(
                    "data", "BASE_TYPE_BAD_LENGTH", "Modal title over 45 chars or not 1-5 components"
                )
            rec.modal = SentModal(data["custom_id"], data.get("title", ""), data["components"], rec)
            self.modals.append(rec.modal)
        else:
            raise invalid("type", "BASE_TYPE_CHOICES", f"Unsupported interaction callback type {kind}")
        rec.response_type, rec.response, rec.ephemeral = kind, data, ephemeral
        meta: Payload = {
            "id": str(rec.id),
            "type": rec.type,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": ephemeral,
        }
        if rec.original is not None:
            meta["response_message_id"] = str(rec.original.id)
        return 200, {"interaction": meta, "resource": resource}

    def _webhook_target(
        self, app_id: str, token: str, message_id: str
    ) -> tuple[InteractionRecord, SentMessage]:
        rec = self._interaction(token)
        if rec is None or int(app_id) != self.bot_id:
            raise Refused(error(404, 10015, "Unknown Webhook"))
        if message_id == "@original":
            target = rec.original
        else:
            target = next((m for m in rec.messages if m.id == int(message_id)), None)
        if target is None or target.deleted:
            raise Refused(error(404, 10008, "Unknown Message"))
        return rec, target

    def _r_wh_get(self, req: _Request, app_id: str, token: str, message_id: str) -> Answer:
        _, target = self._webhook_target(app_id, token, message_id)
        return 200, clone(target.payload)

    def _r_wh_edit(self, req: _Request, app_id: str, token: str, message_id: str) -> Answer:
        _, target = self._webhook_target(app_id, token, message_id)
        return 200, self.edit_bot_message(target, req.body or {}, req.files)

    def _r_wh_delete(self, req: _Request, app_id: str, token: str, message_id: str) -> Answer:
        _, target = self._webhook_target(app_id, token, message_id)
        self.delete_bot_message(target)
        return 204, None

    def _r_wh_followup(self, req: _Request, app_id: str, token: str) -> Answer:
        rec = self._interaction(token)
        if rec is None or int(app_id) != self.bot_id or rec.response_type is None:
            return error(404, 10015, "Unknown Webhook")
        body = req.body or {}
        if rec.original is not None and rec.original.loading:
            # After a "thinking" defer, the first followup fills the loading message (keeping its visibility).
            return 200, self.edit_bot_message(rec.original, body, req.files)
        ephemeral = bool(int(body.get("flags") or 0) & EPHEMERAL)
        made = self.create_bot_message(rec.channel_id, body, req.files, interaction=rec, ephemeral=ephemeral)
        rec.followups.append(made)
        return 200, clone(made.payload)
