"""Japanese and English: the catalog, lazy messages, UserError in both languages, and full coverage."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from bot import i18n
from bot.errors import UserError
from bot.files import sniff_kind
from bot.i18n import Msg, choose, lang, t, translation
from bot.i18n_ja import JA
from bot.memory import SYSTEM_PROMPT
from bot.provider_errors import map_error
from index.ingest import parse_document
from index.query import ANSWER_PROMPT

ROOT = Path(__file__).resolve().parents[2]
# Modules whose every user-facing text must have a Japanese entry.
CONVERTED = [
    "bot/llm.py",
    "bot/provider_errors.py",
    "bot/files.py",
    "index/ingest.py",
    *(f"index/readers/{p.name}" for p in sorted((ROOT / "index" / "readers").glob("*.py"))),
    "index/library.py",
    "index/worker.py",
    "bot/chat.py",
    "bot/ui.py",
    "bot/moderation.py",
    "bot/summarize.py",
    "bot/forget.py",
    "cogs/chat.py",
    "cogs/docs.py",
    "cogs/errors.py",
    "cogs/catchup.py",
    "cogs/privacy.py",
    "cogs/moderation.py",
]


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def texts_in(path: Path) -> tuple[set[str], list[str]]:
    """English texts given to UserError/Msg/t, and UserErrors built from f-strings (untranslatable)."""
    found: set[str] = set()
    fstrings: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call) or not node.args:
            continue
        name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
        first = node.args[0]
        if name in {"UserError", "Msg", "t"} and isinstance(first, ast.Constant):
            if isinstance(first.value, str):
                found.add(first.value)
        elif name == "UserError" and isinstance(first, ast.JoinedStr):
            fstrings.append(f"{path.name}:{node.lineno}")
    return found, fstrings


def test_locales_map_to_the_two_languages() -> None:
    import discord

    assert lang("ja") == "ja" and lang(discord.Locale.japanese) == "ja"
    assert lang("en-US") == "en" and lang("fr") == "en" and lang(None) == "en"
    assert choose("en-US", "ja") == "ja" and choose("ja", "auto") == "ja" and choose("ja", None) == "ja"


def test_templates_translate_with_their_values_and_fall_back_to_english() -> None:
    assert t("Removed **{name}**.", "ja", name="a.md") == "**a.md** を削除しました。"
    assert t("Removed **{name}**.", "en-GB", name="a.md") == "Removed **a.md**."
    assert t("A sentence nobody translated.", "ja") == "A sentence nobody translated."
    assert translation("Sources", "ja") == "出典" and translation("Sources", "en-US") is None


def test_a_broken_translation_still_shows_the_english(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(i18n._table("ja"), "Hello {name}", "こんにちは {nmae}")
    assert t("Hello {name}", "ja", name="Aiko") == "Hello Aiko"


def test_features_can_add_their_own_entries() -> None:
    i18n.add_translations("ja", {"Usage today": "今日の使用量"})
    assert t("Usage today", "ja") == "今日の使用量"
    with pytest.raises(ValueError):
        i18n.add_translations("fr", {"a": "b"})


def test_msg_is_its_english_text_and_translates_nested_values() -> None:
    inner = Msg("{count} chunks", count=3)
    assert inner == "3 chunks" and isinstance(inner, str) and Msg(inner) is inner
    outer = Msg("'{name}': {reason}", name="x.md", reason=inner)
    assert outer.localized("ja") == "「x.md」：3 チャンク"


def test_user_error_keeps_english_message_and_renders_japanese() -> None:
    error = UserError("'{name}' is empty (0 bytes).", kind="empty", params={"name": "空.txt"})
    assert error.message == str(error) == "'空.txt' is empty (0 bytes)."
    assert error.localized("ja") == "「空.txt」は空です（0 バイト）。"
    plain = UserError("Some other cog's message.", kind="x")
    assert plain.localized("ja") == "Some other cog's message."


def test_every_provider_error_kind_has_japanese() -> None:
    import httpx2 as httpx
    import openai

    request = httpx.Request("POST", "http://x/v1/chat/completions")

    def status(cls: type, code: int, body: dict, headers: dict | None = None) -> Exception:
        response = httpx.Response(code, request=request, json=body, headers=headers or {})
        return cls("message", response=response, body=body)

    errors = [
        openai.APITimeoutError(request=request),
        openai.APIConnectionError(request=request),
        status(openai.RateLimitError, 429, {"code": "insufficient_quota"}),
        status(openai.RateLimitError, 429, {"code": "rate_limit_exceeded"}, {"retry-after": "7"}),
        status(openai.RateLimitError, 429, {"code": "rate_limit_exceeded"}),
        status(openai.AuthenticationError, 401, {"code": "invalid_api_key"}),
        status(openai.NotFoundError, 404, {"code": "model_not_found"}),
        status(openai.BadRequestError, 400, {"code": "context_length_exceeded"}),
        status(openai.BadRequestError, 400, {"code": "content_policy_violation"}),
        status(openai.InternalServerError, 500, {}),
        status(openai.BadRequestError, 400, {"code": "other"}),
        ValueError("not json"),
    ]
    mapped = [map_error(e, model="gpt-x") for e in errors]
    assert len({m.kind for m in mapped}) >= 10
    for error in mapped:
        japanese = error.localized("ja")
        assert japanese != error.message and any("\u3040" <= ch <= "\u30ff" for ch in japanese), error.kind
    assert "約 8 秒後" in mapped[3].localized("ja")
    assert "`gpt-x`" in mapped[6].localized("ja")


@pytest.mark.parametrize(
    ("data", "name", "japanese"),
    [
        (b"", "empty.txt", "「empty.txt」は空です（0 バイト）。"),
        (b"\x89PNG\r\n\x1a\n" + bytes(64), "notes.md", "PNG 画像のようです"),
        (b"PK\x03\x04" + bytes(40), "book.xlsx", "対応形式：テキスト（.txt）"),
        (b"%PDF-1.4 broken", "x.pdf", "「x.pdf」を開けませんでした"),
    ],
)
def test_upload_refusals_in_japanese(data: bytes, name: str, japanese: str) -> None:
    with pytest.raises(UserError) as caught:
        parse_document(data, name)
    assert japanese in caught.value.localized("ja")
    assert "'" + name + "'" in caught.value.message  # the English is unchanged


def test_unsupported_type_names_the_kind_in_japanese() -> None:
    with pytest.raises(UserError) as caught:
        sniff_kind(b"x", "old.doc")
    assert caught.value.localized("ja").startswith("「old.doc」は.doc 文書のようですが")


def test_catalog_keeps_the_placeholders_of_the_english() -> None:
    wrong = {en: ja for en, ja in JA.items() if fields(en) != fields(ja)}
    assert wrong == {}


def test_every_text_of_the_converted_modules_has_japanese() -> None:
    missing, fstrings = [], []
    for relative in CONVERTED:
        found, built = texts_in(ROOT / relative)
        missing += [f"{relative}: {text!r}" for text in found if text not in JA]
        fstrings += built
    assert missing == []
    assert fstrings == []  # an f-string UserError can't be translated: use a template with params


def test_module_constants_shown_to_users_have_japanese() -> None:
    from bot.chat import NO_DOCS_NOTE, NO_VISION_NOTE, TRIM_NOTE
    from bot.files import SUPPORTED_TYPES
    from bot.forget import DONE_LINES, NOTHING_STORED, SUMMARY_LINES
    from bot.moderation import REFUSED_INPUT, REFUSED_OUTPUT
    from bot.ui import PLACEHOLDER
    from cogs.chat import EMPTY_MENTION
    from cogs.docs import DECIDED_BY, SCOPE_LINES
    from index.query import NOTHING_FOUND

    constants = [TRIM_NOTE, NO_VISION_NOTE, SUPPORTED_TYPES, NOTHING_STORED, REFUSED_INPUT, REFUSED_OUTPUT]
    constants += [PLACEHOLDER, EMPTY_MENTION, NOTHING_FOUND, NO_DOCS_NOTE, *DECIDED_BY.values()]
    constants += list(SCOPE_LINES.values())
    constants += [text for _, text in SUMMARY_LINES + DONE_LINES]
    assert [c for c in constants if c not in JA] == []


def test_model_prompts_ask_for_the_users_language() -> None:
    assert "language the user writes in" in SYSTEM_PROMPT
    assert "language of the question" in ANSWER_PROMPT
