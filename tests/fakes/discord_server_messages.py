"""Bot-authored messages on the fake Discord server and the REST handlers for messages."""

from __future__ import annotations

from tests.fakes.discord_payloads import (
    EPHEMERAL,
    LOADING,
    InteractionRecord,
    Payload,
    SentFile,
    SentMessage,
    attachment_payload,
    clone,
    iso,
    message_payload,
)
from tests.fakes.discord_server_transport import (
    Answer,
    Refused,
    _InFile,
    _Request,
    error,
    invalid,
)
from tests.fakes.discord_server_world import ServerWorld


class BotMessages(ServerWorld):
    """Create, edit and delete bot messages; REST routes under /channels/{id}/messages."""

    # ------------------------------------------------------------------ bot messages

    def _attachments(
        self,
        channel_id: int,
        entries: list[Payload] | None,
        files: list[_InFile],
        *,
        ephemeral: bool,
        existing: list[SentFile] | None = None,
    ) -> tuple[list[Payload], list[SentFile]]:
        """Resolve an `attachments` array: kept ids from `existing`, new ones by upload index."""
        by_index = {f.index: f for f in files}
        kept = {str(sf.id): sf for sf in existing or []}
        if entries is None:
            entries = [{"id": f.index, "filename": f.filename} for f in files]
        payloads: list[Payload] = []
        sent_files: list[SentFile] = []
        for entry in entries:
            key = str(entry.get("id"))
            if key in kept:
                old = kept[key]
                payloads.append(
                    attachment_payload(
                        old.id,
                        channel_id,
                        old.filename,
                        old.data,
                        content_type=old.content_type,
                        description=old.description,
                        ephemeral=ephemeral,
                    )
                )
                sent_files.append(old)
                continue
            upload = by_index.get(int(key)) if key.isdigit() else None
            if upload is None:
                raise invalid("attachments", "ATTACHMENT_NOT_FOUND", f"Unknown attachment {key}")
            attachment_id = self.ids.next()
            filename = entry.get("filename") or upload.filename
            att = attachment_payload(
                attachment_id,
                channel_id,
                filename,
                upload.data,
                description=entry.get("description"),
                ephemeral=ephemeral,
            )
            self.add_cdn(att, upload.data)
            payloads.append(att)
            sent_files.append(
                SentFile(
                    filename,
                    upload.data,
                    attachment_id,
                    att["content_type"],
                    entry.get("description"),
                    att["url"],
                )
            )
        return payloads, sent_files

    def create_bot_message(
        self,
        channel_id: int,
        body: Payload,
        files: list[_InFile],
        *,
        interaction: InteractionRecord | None = None,
        ephemeral: bool = False,
        kind: int = 0,
        loading: bool = False,
    ) -> SentMessage:
        """Create a message authored by the bot (raises Refused like Discord would)."""
        if not loading:
            self._validate(body, files)
        attachments, sent_files = self._attachments(
            channel_id, body.get("attachments"), files, ephemeral=ephemeral
        )
        reference = body.get("message_reference")
        referenced: Payload | None = None
        if reference:
            referenced = self.find_message(int(reference["message_id"]))
            if referenced is None and reference.get("fail_if_not_exists", True):
                raise invalid("message_reference", "MESSAGE_REFERENCE_UNKNOWN_MESSAGE", "Unknown message")
        flags = int(body.get("flags") or 0) & ~(EPHEMERAL | LOADING)
        flags |= (EPHEMERAL if ephemeral else 0) | (LOADING if loading else 0)
        message_id = self.ids.next()
        reply_author = int(referenced["author"]["id"]) if referenced else None
        users, roles, everyone = self._pings(body, reply_author) if not loading else (set(), set(), False)
        payload = message_payload(
            message_id,
            channel_id,
            self.bot_user,
            content=body.get("content") or "",
            mentions=[self.users[u] for u in sorted(users) if u in self.users],
            mention_roles=sorted(roles),
            mention_everyone=everyone,
            attachments=attachments,
            embeds=body.get("embeds") or [],
            components=body.get("components") or [],
            type=19 if referenced else kind,
            flags=flags,
            tts=bool(body.get("tts", False)),
        )
        if referenced is not None:
            payload["message_reference"] = {
                "type": 0,
                "message_id": referenced["id"],
                "channel_id": referenced["channel_id"],
            }
            if referenced.get("guild_id"):
                payload["message_reference"]["guild_id"] = referenced["guild_id"]
            payload["referenced_message"] = {k: v for k, v in referenced.items() if k != "referenced_message"}
        if interaction is not None:
            payload["webhook_id"] = str(self.bot_id)
            payload["application_id"] = str(self.bot_id)
            payload["interaction_metadata"] = {
                "id": str(interaction.id),
                "type": interaction.type,
                "user": self.users[interaction.user_id],
                "authorizing_integration_owners": {},
            }
        if not loading:
            self._require_not_empty(payload)
        sent = SentMessage(
            id=message_id,
            channel_id=channel_id,
            payload=payload,
            files=sent_files,
            allowed_mentions=body.get("allowed_mentions"),
            ephemeral=ephemeral,
            interaction_id=None if interaction is None else interaction.id,
            loading=loading,
            contents=[] if loading else [payload["content"]],
            pinged_users=users,
            pinged_roles=roles,
            pinged_everyone=everyone,
        )
        self.sent.append(sent)
        self.sent_by_id[message_id] = sent
        if not ephemeral:
            self.store_message(payload)
            self._echo("MESSAGE_CREATE", payload)
        return sent

    def edit_bot_message(self, sent: SentMessage, body: Payload, files: list[_InFile]) -> Payload:
        """Apply an edit to a bot message and return the new payload."""
        if sent.deleted:
            raise Refused(error(404, 10008, "Unknown Message"))
        self._validate(body, files)
        new = clone(sent.payload)
        if "content" in body:
            new["content"] = body["content"] or ""
        for key in ("embeds", "components"):
            if key in body:
                new[key] = body[key] or []
        new_files = sent.files
        if "attachments" in body or files:
            new["attachments"], new_files = self._attachments(
                sent.channel_id, body.get("attachments"), files, ephemeral=sent.ephemeral, existing=sent.files
            )
        if body.get("flags") is not None:
            keep = int(new.get("flags", 0)) & (EPHEMERAL | LOADING)
            new["flags"] = keep | (int(body["flags"]) & ~(EPHEMERAL | LOADING))
        if sent.loading:
            new["flags"] = int(new.get("flags", 0)) & ~LOADING
        else:
            new["edited_timestamp"] = iso()
        self._require_not_empty(new)
        sent.payload, sent.files, sent.loading = new, new_files, False
        sent.contents.append(new["content"])
        sent.edits.append(body)
        if "allowed_mentions" in body:
            sent.allowed_mentions = body["allowed_mentions"]
        if not sent.ephemeral:
            self.store_message(new)
            self._echo("MESSAGE_UPDATE", new)
        return clone(new)

    def delete_bot_message(self, sent: SentMessage) -> None:
        """Delete a bot message."""
        if sent.deleted:
            raise Refused(error(404, 10008, "Unknown Message"))
        sent.deleted = True
        self._delete_stored(sent.channel_id, sent.id)

    def _delete_stored(self, channel_id: int, message_id: int) -> None:
        if self.messages.get(channel_id, {}).pop(message_id, None) is not None:
            event: Payload = {"id": str(message_id), "channel_id": str(channel_id)}
            guild_id = self.guild_of(channel_id)
            if guild_id is not None:
                event["guild_id"] = str(guild_id)
            self._echo("MESSAGE_DELETE", event)

    def _echo(self, event: str, payload: Payload) -> None:
        """Send the gateway event Discord would send for a change the bot made."""
        if self.hooks is None:
            return
        data = clone(payload)
        channel_id = int(data.get("channel_id", 0))
        guild_id = self.guild_of(channel_id) if channel_id in self.channels else None
        if guild_id is not None and event in ("MESSAGE_CREATE", "MESSAGE_UPDATE"):
            data["guild_id"] = str(guild_id)
            author = self.member(guild_id, int(data["author"]["id"]))
            if author is not None:
                data["member"] = {k: v for k, v in author.items() if k != "user"}
        self.hooks.gateway(event, data)

    # ------------------------------------------------------------------ REST: messages

    def _r_history(self, req: _Request, channel_id: str) -> Answer:
        cid = int(channel_id)
        self._require(cid, "read_message_history")
        ordered = sorted(self.messages.get(cid, {}).values(), key=lambda m: int(m["id"]))
        limit = int(req.params.get("limit", 50))
        if "before" in req.params:
            chosen = [m for m in ordered if int(m["id"]) < int(req.params["before"])][-limit:]
        elif "after" in req.params:
            chosen = [m for m in ordered if int(m["id"]) > int(req.params["after"])][:limit]
        elif "around" in req.params:
            around = int(req.params["around"])
            older = [m for m in ordered if int(m["id"]) < around][-(limit // 2) :] if limit > 1 else []
            newer = [m for m in ordered if int(m["id"]) >= around]
            chosen = older + newer[: limit - len(older)]
        else:
            chosen = ordered[-limit:]
        return 200, [clone(self._visible_content(m)) for m in reversed(chosen)]

    def _r_get_message(self, req: _Request, channel_id: str, message_id: str) -> Answer:
        self._require(int(channel_id), "read_message_history")
        found = self.messages.get(int(channel_id), {}).get(int(message_id))
        if found is None:
            return error(404, 10008, "Unknown Message")
        return 200, clone(self._visible_content(found))

    def _r_create_message(self, req: _Request, channel_id: str) -> Answer:
        cid = int(channel_id)
        body = req.body or {}
        needed = ["send_messages"] + (["attach_files"] if req.files else [])
        if body.get("message_reference"):
            needed.append("read_message_history")
        self._require(cid, *needed)
        channel = self.channels[cid]
        if channel["type"] == 1 and int(channel["recipients"][0]["id"]) in self.closed_dms:
            return error(403, 50007, "Cannot send messages to this user")
        return 200, clone(self.create_bot_message(cid, body, req.files).payload)

    def _r_edit_message(self, req: _Request, channel_id: str, message_id: str) -> Answer:
        sent = self.sent_by_id.get(int(message_id))
        if (
            sent is None
            or sent.channel_id != int(channel_id)
            or (sent.interaction_id is not None and sent.ephemeral)
        ):
            if self.messages.get(int(channel_id), {}).get(int(message_id)):
                return error(403, 50005, "Cannot edit a message authored by another user")
            return error(404, 10008, "Unknown Message")
        return 200, self.edit_bot_message(sent, req.body or {}, req.files)

    def _r_delete_message(self, req: _Request, channel_id: str, message_id: str) -> Answer:
        cid, mid = int(channel_id), int(message_id)
        sent = self.sent_by_id.get(mid)
        if sent is not None and sent.channel_id == cid and not sent.ephemeral:
            self.delete_bot_message(sent)
            return 204, None
        if mid not in self.messages.get(cid, {}):
            return error(404, 10008, "Unknown Message")
        self._require(cid, "manage_messages")
        self._delete_stored(cid, mid)
        return 204, None

    def _r_bulk_delete(self, req: _Request, channel_id: str) -> Answer:
        cid = int(channel_id)
        self._require(cid, "manage_messages")
        for mid in map(int, req.body["messages"]):
            sent = self.sent_by_id.get(mid)
            if sent is not None:
                sent.deleted = True
            self._delete_stored(cid, mid)
        return 204, None

    def _r_react(self, req: _Request, channel_id: str, message_id: str, emoji: str) -> Answer:
        self._require(int(channel_id), "add_reactions", "read_message_history")
        if self.find_message(int(message_id)) is None:
            return error(404, 10008, "Unknown Message")
        self.reactions.append((int(channel_id), int(message_id), emoji, True))
        return 204, None

    def _r_unreact(self, req: _Request, channel_id: str, message_id: str, emoji: str) -> Answer:
        self.reactions.append((int(channel_id), int(message_id), emoji, False))
        return 204, None
