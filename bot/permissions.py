"""Who may do what: feature role gates, admin checks and the server allow-list, over plain values."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field

from bot.errors import UserError
from bot.i18n import Msg

FEATURES = ("chat", "docs", "ask", "code", "images")
FEATURE_NAMES = {
    "chat": "Chatting with the bot",
    "docs": "Adding documents",
    "ask": "Asking the documents",
    "code": "Code help",
    "images": "Making images",
}


@dataclass(frozen=True, slots=True)
class Caller:
    """The person behind a request: where, who, their role ids, and whether they manage the server."""

    guild_id: int | None
    user_id: int
    role_ids: frozenset[int] = field(default_factory=frozenset)
    manage_guild: bool = False


def can_use(caller: Caller, allowed_roles: Collection[int]) -> bool:
    """Whether a feature gated to `allowed_roles` (empty: everyone) is open to the caller.

    Server managers always pass, so a gate can never lock out the people who can change it.
    """
    if caller.guild_id is None or not allowed_roles or caller.manage_guild:
        return True
    return not caller.role_ids.isdisjoint(allowed_roles)


def require_feature(
    feature: str, caller: Caller, allowed_roles: Collection[int], role_names: Mapping[int, str]
) -> None:
    """Refuse, naming the roles that may, when the caller's roles don't open the feature."""
    if can_use(caller, allowed_roles):
        return
    names = [f"@{role_names[r]}" for r in allowed_roles if r in role_names]
    who = ", ".join(sorted(names)) if names else Msg("a role that no longer exists")
    raise UserError(
        "{feature} is limited to {who} on this server. Ask someone with Manage Server if you need access.",
        kind="forbidden",
        params={"feature": Msg(FEATURE_NAMES.get(feature, feature)), "who": who},
    )


def require_manage_guild(manage_guild: bool, action: str) -> None:
    """Refuse an admin action to someone without Manage Server, saying what is needed."""
    if not manage_guild:
        raise UserError(
            "{action} needs the Manage Server permission.", kind="forbidden", params={"action": Msg(action)}
        )


def guild_allowed(guild_id: int, allowed: Collection[int]) -> bool:
    """Whether the bot may stay in a server (an empty allow-list allows all)."""
    return not allowed or guild_id in allowed
