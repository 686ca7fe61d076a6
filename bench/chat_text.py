"""Realistic team-chat text for the chat benchmarks: log-normal message lengths, some code blocks."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bot.memory import message_tokens

_VOCABULARY = (
    "the a to and of in is it that for on with this we can you be are should deploy build test merge "
    "branch review release staging production database query index cache latency request response "
    "error timeout retry queue worker job schedule config setting token user channel message thread "
    "server client api endpoint schema migration table column row key value json yaml docker image "
    "container pod node cluster memory cpu disk log metric alert dashboard incident fix bug issue "
    "ticket sprint roadmap design doc spec meeting tomorrow today yesterday week friday monday plan "
    "customer feature flag rollout rollback version tag commit diff patch lint type check coverage "
    "python rust typescript go function class method module package import export async await loop "
    "lock thread process pipeline ci cd run step stage artifact bucket storage backup restore "
    "permission role admin owner team manager review approve comment question answer idea maybe "
    "probably definitely because however although since until after before while when where why how"
)
_WORDS = tuple(_VOCABULARY.split())


def _sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(_WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + rng.choice(".?.!.")


def _code_block(rng: random.Random, lines: int) -> str:
    body = [
        f"def {rng.choice(_WORDS)}_{i}(x: int) -> int:\n    return x * {rng.randint(2, 99)}"
        for i in range(lines)
    ]
    return "```python\n" + "\n".join(body) + "\n```"


def make_text(rng: random.Random, words: int, code_chance: float) -> str:
    """A chat message of about `words` words, sometimes with a fenced code block."""
    sentences: list[str] = []
    left = words
    while left > 0:
        n = min(left, rng.randint(5, 18))
        sentences.append(_sentence(rng, n))
        left -= n
    paragraphs = [" ".join(sentences[i : i + 4]) for i in range(0, len(sentences), 4)]
    if rng.random() < code_chance:
        paragraphs.insert(rng.randint(0, len(paragraphs)), _code_block(rng, rng.randint(2, 8)))
    return "\n\n".join(paragraphs)


def _sized_text(rng: random.Random, mu: float, sigma: float, low: int, high: int, code: float) -> str:
    """A message whose length in words is log-normal, as chat messages are."""
    return make_text(rng, min(high, max(low, int(rng.lognormvariate(mu, sigma)))), code)


@dataclass(slots=True)
class TextPool:
    """Pre-generated user and assistant messages with their token counts."""

    user: list[str]
    assistant: list[tuple[str, int]]

    @classmethod
    def make(cls, rng: random.Random, size: int = 1_000) -> TextPool:
        """User messages of a median ~20 words; answers of a median ~180 words."""
        user = [_sized_text(rng, 3.0, 0.8, 3, 400, 0.08) for _ in range(size)]
        answers = [_sized_text(rng, 5.2, 0.6, 20, 900, 0.3) for _ in range(size)]
        return cls(user, [(a, message_tokens(a)) for a in answers])
