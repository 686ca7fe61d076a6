"""REST handlers of the fake Discord server for users, guilds and channels."""

from __future__ import annotations

from tests.fakes.discord_payloads import (
    clone,
    dm_payload,
    thread_payload,
)
from tests.fakes.discord_server_messages import BotMessages
from tests.fakes.discord_server_transport import (
    THREAD_TYPES,
    Answer,
    Refused,
    _Request,
    error,
)


class GuildHandlers(BotMessages):
    """REST routes for the bot user, DMs, guilds, roles, members, channels and threads."""

    # ------------------------------------------------------------------ REST: users, guilds, channels

    def _r_get_me(self, req: _Request) -> Answer:
        return 200, clone(self.bot_user)

    def _r_get_application(self, req: _Request) -> Answer:
        return 200, {
            "id": str(self.bot_id),
            "name": self.bot_user["username"],
            "icon": None,
            "description": "",
            "rpc_origins": [],
            "bot_public": False,
            "bot_require_code_grant": False,
            "owner": self.bot_user,
            "team": None,
            "verify_key": "0" * 64,
            "flags": 0,
            "summary": "",
            "bot": self.bot_user,
        }

    def _guild(self, guild_id: str) -> int:
        if int(guild_id) not in self.guilds or int(guild_id) in self.left_guilds:
            raise Refused(error(404, 10004, "Unknown Guild"))
        return int(guild_id)

    def _r_get_user(self, req: _Request, user_id: str) -> Answer:
        user = self.users.get(int(user_id))
        return (200, clone(user)) if user else error(404, 10013, "Unknown User")

    def _r_create_dm(self, req: _Request) -> Answer:
        user_id = int(req.body["recipient_id"])
        if user_id not in self.users:
            return error(404, 10013, "Unknown User")
        for channel in self.channels.values():
            if channel["type"] == 1 and channel["recipients"][0]["id"] == str(user_id):
                return 200, clone(channel)
        channel = dm_payload(self.ids.next(), self.users[user_id])
        self.channels[int(channel["id"])] = channel
        return 200, clone(channel)

    def _r_leave_guild(self, req: _Request, guild_id: str) -> Answer:
        gid = self._guild(guild_id)
        self.left_guilds.append(gid)
        self.members[gid].pop(self.bot_id, None)
        self._echo("GUILD_DELETE", {"id": guild_id})
        return 204, None

    def _r_get_guild(self, req: _Request, guild_id: str) -> Answer:
        full = self.full_guild(self._guild(guild_id))
        for key in ("channels", "threads", "members", "voice_states", "presences"):
            full.pop(key, None)
        return 200, full

    def _r_get_guild_channels(self, req: _Request, guild_id: str) -> Answer:
        self._guild(guild_id)
        return 200, [
            clone(c)
            for c in self.channels.values()
            if c.get("guild_id") == guild_id and c["type"] not in THREAD_TYPES
        ]

    def _r_get_roles(self, req: _Request, guild_id: str) -> Answer:
        return 200, clone(list(self.roles[self._guild(guild_id)].values()))

    def _r_get_member(self, req: _Request, guild_id: str, user_id: str) -> Answer:
        member = self.member(self._guild(guild_id), int(user_id))
        return (200, clone(member)) if member else error(404, 10007, "Unknown Member")

    def _r_get_channel(self, req: _Request, channel_id: str) -> Answer:
        channel = self.channels.get(int(channel_id))
        return (200, clone(channel)) if channel else error(404, 10003, "Unknown Channel")

    def _r_typing(self, req: _Request, channel_id: str) -> Answer:
        self._require(int(channel_id), "send_messages")
        return 204, None

    def _r_create_thread(self, req: _Request, channel_id: str, message_id: str | None = None) -> Answer:
        cid = int(channel_id)
        private = req.body.get("type") == 12
        self._require(cid, "create_private_threads" if private else "create_public_threads")
        guild_id = self.guild_of(cid)
        if guild_id is None:
            raise Refused(error(400, 50024, "Cannot execute action on this channel type"))
        thread_id = int(message_id) if message_id else self.ids.next()
        data = thread_payload(thread_id, guild_id, cid, self.bot_id, req.body["name"], private=private)
        self.channels[thread_id] = data
        if self.hooks is not None:
            self.hooks.gateway("THREAD_CREATE", {**clone(data), "newly_created": True})
        return 201, clone(data)
