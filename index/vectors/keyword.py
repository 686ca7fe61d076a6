"""The keyword index's text: NFKC-normalised, CJK runs (written without spaces) as overlapping bigrams."""

from __future__ import annotations

import re
import unicodedata

MAX_QUERY_TERMS = 48

# Han, kana (with 々〆〇 and the long-vowel mark), Hangul: scripts written without spaces between words.
_CJK = (
    "\u3005-\u3007\u3040-\u309f\u30a0-\u30fa\u30fc-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uac00-\ud7af\uf900-\ufaff\U00020000-\U0003134f"
)
_CJK_RUN = re.compile(f"[{_CJK}]+")
_TERM = re.compile(f"[{_CJK}]+|[^\\W_{_CJK}]+")


def _bigrams(run: str) -> list[str]:
    return [run] if len(run) == 1 else [run[i : i + 2] for i in range(len(run) - 1)]


def keyword_text(text: str) -> str:
    """Text as the keyword index stores it: NFKC, and each CJK run as its overlapping bigrams."""

    def expand(match: re.Match[str]) -> str:
        run = match.group()
        # The last character alone too, so a one-character query (a prefix search) finds a run's end.
        tokens = _bigrams(run) + ([run[-1]] if len(run) > 1 else [])
        return " " + " ".join(tokens) + " "

    return _CJK_RUN.sub(expand, unicodedata.normalize("NFKC", text))


def keyword_query(text: str) -> str:
    """A safe FTS5 query for free text: words and CJK bigrams quoted and OR-ed; "" if nothing to find."""
    terms: list[str] = []
    for match in _TERM.finditer(unicodedata.normalize("NFKC", text)):
        token = match.group()
        if not _CJK_RUN.fullmatch(token):
            terms.append(f'"{token}"')
        elif len(token) == 1:
            terms.append(f'"{token}"*')
        else:
            grams = _bigrams(token)
            terms.extend(f'"{gram}"' for gram in grams)
            if len(grams) > 1:  # the run as a phrase too: chunks with the exact sequence rank higher
                terms.append('"' + " ".join(grams) + '"')
    # Terms hold only letters and digits (the regex), so quoting makes FTS5 syntax inert.
    return " OR ".join(list(dict.fromkeys(terms))[:MAX_QUERY_TERMS])
