"""The bot's own words in English and Japanese: English text is the key, catalogs hold the rest.

    t("Persona set for this channel.", "ja")                       # plain text
    t("Removed **{name}**.", locale, name=doc.name)                 # a template with values
    UserError("'{name}' is empty (0 bytes).", kind="empty", params={"name": name})
    Msg("an Excel spreadsheet")                                     # a value translated with its template

A text missing from a catalog is shown in English, so adopting this is never a breaking change.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Protocol

log = logging.getLogger(__name__)

DEFAULT = "en"
SUPPORTED = ("en", "ja")
AUTO = "auto"


class Localizable(Protocol):
    """Anything that can render itself in a language (Msg, UserError)."""

    def localized(self, locale: object = None) -> str: ...


def lang(locale: object) -> str:
    """The supported language for a Discord locale ("ja", "en-US", discord.Locale.japanese ...)."""
    value = getattr(locale, "value", locale)
    if isinstance(value, str) and value.strip().lower().startswith("ja"):
        return "ja"
    return DEFAULT


def choose(user_locale: object, server_default: str | None = AUTO) -> str:
    """The language to answer in: a server's fixed language if it set one, else the user's own."""
    if server_default in SUPPORTED:
        return server_default  # type: ignore[return-value]
    return lang(user_locale)


_CATALOGS: dict[str, dict[str, str]] = {}


def _table(language: str) -> dict[str, str]:
    table = _CATALOGS.get(language)
    if table is None:
        table = _CATALOGS[language] = {}
        if language == "ja":
            from bot.i18n_ja import JA

            table.update(JA)
    return table


def catalog(language: str) -> Mapping[str, str]:
    """The English → `language` table (empty for English)."""
    return {} if language == DEFAULT else _table(language)


def add_translations(language: str, entries: Mapping[str, str]) -> None:
    """Add a feature's own entries (e.g. at the top of cogs/team.py) without editing the main catalog."""
    if language not in SUPPORTED or language == DEFAULT:
        raise ValueError(f"no catalog for {language!r}")
    _table(language).update(entries)


def translation(text: str, locale: object) -> str | None:
    """The exact translation of an English text, or None when the catalog lacks it (or it is English)."""
    return catalog(lang(locale)).get(text)


def t(text: str, locale: object = None, /, **params: object) -> str:
    """`text` (an English string or template, or a Msg) in the locale's language, with `params` filled in."""
    if isinstance(text, Msg) and not params:
        return text.localized(locale)
    language = lang(locale)
    template = catalog(language).get(text, text)
    if not params:
        return template
    values = {k: _render(v, language) for k, v in params.items()}
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        # A translation that names a value the English doesn't have must not cost the user the message.
        log.warning("catalog %s: bad template for %r", language, text)
        return text.format(**values)


def _render(value: object, language: str) -> object:
    localized = getattr(value, "localized", None)
    return localized(language) if callable(localized) else value


class Msg(str):
    """A text that is its English rendering everywhere a str goes, and translates on `.localized()`."""

    text: str
    params: dict[str, object]

    def __new__(cls, text: str, /, **params: object) -> Msg:
        if isinstance(text, Msg) and not params:
            return text
        self = super().__new__(cls, t(str(text), DEFAULT, **params))
        self.text = str(text)
        self.params = params
        return self

    def localized(self, locale: object = None) -> str:
        """The text in the locale's language."""
        return t(self.text, locale, **self.params)

    def __repr__(self) -> str:
        return f"Msg({self.text!r}, **{self.params!r})"
