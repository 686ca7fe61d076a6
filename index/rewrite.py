"""Cross-language retrieval: the chat model translates a question into the documents' languages.

The embedding model may know one language only (all-MiniLM-L6-v2 reads English) and BM25 matches words,
so a Japanese question about English documents finds little as asked. Searching with an English version
as well, fused with the question as asked, took hit@5 for such questions from 0.13 to 1.00
(bench/quality.py; translations there come from a fixed table standing in for the chat model).
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Sequence

from bot.errors import UserError
from bot.llm import LLM, Who
from bot.text import strip_reasoning

log = logging.getLogger(__name__)

MAX_CACHED = 512
MAX_REWRITE_CHARS = 500
REWRITE_PROMPT = (
    "You translate search queries for a document search. Translate the user's query into {language}. "
    "Keep code, commands, options, file names, product names and technical terms exactly as written. "
    "Reply with the translation only, on one line, with no quotes or explanations."
)

_JAPANESE = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uff66-\uff9f]")
_NOT_ASCII_LETTER = re.compile(r"[^\W\d_a-zA-Z]")


def written_in(question: str, language: str) -> bool:
    """Whether a question is plainly already in a language, judged by its script (English and Japanese)."""
    name = language.strip().lower()
    if name in ("english", "en"):
        return _NOT_ASCII_LETTER.search(question) is None
    if name in ("japanese", "ja", "日本語"):
        return _JAPANESE.search(question) is not None
    return False  # unknown: let the model decide; an unchanged reply is dropped


def parse_languages(setting: str) -> tuple[str, ...]:
    """The QUERY_LANGUAGES setting as a tuple of language names."""
    return tuple(part.strip() for part in setting.split(",") if part.strip())


class QueryRewriter:
    """Translations of questions into the documents' languages, cached, never failing the question."""

    def __init__(self, llm: LLM, languages: Sequence[str]) -> None:
        self.llm = llm
        self.languages = tuple(languages)
        self._cache: OrderedDict[tuple[str, str], str] = OrderedDict()

    def needed(self, question: str) -> list[str]:
        """The languages this question should also be searched in."""
        return [language for language in self.languages if not written_in(question, language)]

    async def rewrites(self, question: str, *, who: Who) -> list[str]:
        """The question in each language it is not already written in (none when the model fails)."""
        found: list[str] = []
        for language in self.needed(question):
            text = await self._translate(question, language, who)
            if text and text.casefold() != question.strip().casefold() and text not in found:
                found.append(text)
        return found

    async def _translate(self, question: str, language: str, who: Who) -> str:
        key = (language, question)
        if key in self._cache:
            self._cache.move_to_end(key)
            return self._cache[key]
        messages = [
            {"role": "system", "content": REWRITE_PROMPT.format(language=language)},
            {"role": "user", "content": question},
        ]
        try:
            result = await self.llm.complete(messages, who=who, max_tokens=200, temperature=0)
        except UserError as error:
            # The question is still searched as asked; a failed translation only narrows the search.
            log.info("query translation into %s failed: %s", language, error.kind)
            return ""
        lines = [line.strip() for line in strip_reasoning(result.text).strip().splitlines() if line.strip()]
        text = lines[0].strip("\"'「」“”") if lines else ""
        text = text[:MAX_REWRITE_CHARS]
        self._cache[key] = text
        if len(self._cache) > MAX_CACHED:
            self._cache.popitem(last=False)
        return text
