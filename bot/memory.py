"""Build a conversation for the model: persona, summary and the recent turns that fit the budget."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from bot.store import ChannelState, Turn
from bot.tokens import count_tokens

SYSTEM_PROMPT = (
    "You are teambot, a helpful assistant in a team's Discord server. "
    "Answer in the language the user writes in. Use Discord markdown; put code in fenced blocks "
    "with a language tag. Be concise unless asked for detail. "
    "In shared channels each user message starts with the speaker's name in square brackets, "
    "so you can tell people apart; do not start your own replies with a name."
)
SUMMARY_INTRO = "Summary of the earlier conversation in this channel:\n"
_MESSAGE_OVERHEAD = 4  # tokens the chat format adds per message


@dataclass(slots=True)
class Conversation:
    """What the model will see for one turn."""

    messages: list[dict[str, Any]]
    turns: list[Turn]
    tokens: int


def speaker_line(name: str, content: str, *, shared: bool) -> str:
    """A user turn as the model sees it: prefixed with the speaker in shared channels."""
    return f"[{name}] {content}" if shared else content


def system_message(state: ChannelState, extra: str = "") -> str:
    """The system prompt: base instructions, the channel persona and the rolling summary."""
    parts = [SYSTEM_PROMPT]
    if state.persona:
        parts.append(f"This channel's instructions for you:\n{state.persona}")
    if extra:
        parts.append(extra)
    if state.summary:
        parts.append(SUMMARY_INTRO + state.summary)
    return "\n\n".join(parts)


def build_conversation(
    state: ChannelState,
    turns: list[Turn],
    *,
    budget: int,
    system_extra: str = "",
) -> Conversation:
    """Assemble the messages for a turn within `budget` tokens (the reply's share already removed):
    the system prompt, then the newest of `turns` that fit beside it."""
    system = system_message(state, system_extra)
    used = _system_tokens(system)
    kept = newest_within(turns, max(0, budget - used))
    messages = [{"role": "system", "content": system}]
    messages += [{"role": t.role, "content": t.content} for t in kept]  # a call per turn cost more
    return Conversation(messages, kept, used + sum(t.tokens for t in kept))


def newest_within(turns: list[Turn], budget: int) -> list[Turn]:
    """The newest turns whose tokens fit in `budget`, oldest first (stops at the first that doesn't)."""
    used = 0
    start = len(turns)
    while start > 0 and used + turns[start - 1].tokens <= budget:
        start -= 1
        used += turns[start].tokens
    return turns[start:]


def message_tokens(content: str) -> int:
    """Tokens one chat message costs, counting the chat format's own overhead."""
    return count_tokens(content) + _MESSAGE_OVERHEAD


# A channel's system prompt changes only with its persona, summary or sources: count it once.
_system_tokens = lru_cache(maxsize=4096)(message_tokens)
