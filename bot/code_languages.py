"""Programming languages in code help: canonical fence tags, display names, and a guess from content."""

from __future__ import annotations

import json
import re

from bot.files import CODE_LANGUAGES, code_language
from bot.text import extension_for, language_for_extension

_NAMES = {"javascript": "JavaScript", "typescript": "TypeScript", "cpp": "C++", "csharp": "C#",
          "powershell": "PowerShell", "objectivec": "Objective-C", "vbnet": "VB.NET"}
_UPPER = frozenset({"php", "sql", "html", "css", "json", "yaml", "toml", "xml", "hcl", "scss"})
_HEURISTICS: dict[str, tuple[str, ...]] = {
    "python": (r"^\s*def \w+\(.*\)\s*(->.*)?:\s*$", r"^\s*(from [\w.]+ )?import [\w.]+",
               r"^\s*class \w+(\(.*\))?:", r"\bself\.", r"^\s*(elif|except|with|for|while|if) .*:\s*$",
               r"\b(None|True|False)\b", r"^\s*print\(", r"^\w+ = [^;{]*$", r"__name__ == ['\"]__main__"),
    "javascript": (r"\b(const|let|var) \w+ = ", r"\bfunction\s*\w*\s*\(", r"=>", r"console\.log\(", r"===",
                   r"\brequire\(['\"]", r"\bmodule\.exports\b", r"\bdocument\.", r"^import .* from ['\"]",
                   r"^\s*export (default|const|function)"),
    "go": (r"^package \w+", r"\bfunc (\([^)]*\) )?\w+\(", r":= ", r"\bfmt\.\w+\(", r"\berr != nil\b",
           r"^import \($", r"\bgo func\b|\bchan\b"),
    "rust": (r"\bfn \w+(<.*>)?\(", r"\blet mut\b", r"^\s*impl\b", r"\bprintln!\(", r"\bmatch .* \{",
             r"&str\b|\bString::", r"\bpub (fn|struct|enum)\b", r"\b(Option|Result|Vec)<", r"\.unwrap\(\)"),
    "java": (r"\bpublic (static )?(final )?(class|void|int|String)\b", r"\bSystem\.out\.print", r"@Override",
             r"^import java\.", r"String\[\] args", r"\bprivate (final )?\w+(<.*>)? \w+;"),
    "csharp": (r"^using System", r"^\s*namespace \w+", r"\bConsole\.Write", r"\{ get; (private )?set; \}",
               r"\bpublic (async )?(Task|void|string|int)\b", r"\bvar \w+ = new\b"),
    "cpp": (r"#include <(iostream|vector|string|map|memory)>", r"\bstd::", r"\bcout\s*<<", r"\btemplate\s*<",
            r"\bint main\("),
    "c": (r"#include <\w+\.h>", r"\bint main\(", r"\bprintf\(", r"\bmalloc\(", r"\bstruct \w+ \{"),
    "ruby": (r"^\s*def \w+[?!]?(\(.*\))?\s*$", r"^\s*end\s*$", r"\bputs\b", r"\battr_(reader|accessor)\b",
             r"\.each do \|", r"^require ['\"]"),
    "php": (r"<\?php", r"\$\w+\s*=", r"\becho\b", r"\$this->", r"\bfunction \w+\(\$"),
    "bash": (r"^#!/bin/(ba)?sh", r"^\s*(if|while) \[\[? ", r"^\s*fi\s*$", r"^\s*done\s*$", r"\becho \"?\$",
             r"^\s*export \w+=", r"\|\s*(grep|awk|sed)\b"),
    "sql": (r"(?i)\bselect\b.+\bfrom\b", r"(?i)\binsert\s+into\b", r"(?i)\bcreate\s+table\b",
            r"(?i)\bwhere\s+[\w.]+\s*(=|<|>|!=|like|in|is)", r"(?i)\bupdate\s+\w+\s+set\b",
            r"(?i)\b(inner|left|right)?\s*join\b.+\bon\b"),
    "html": (r"(?i)<!doctype html", r"<(div|span|html|body|head|p|a|ul|li)\b[^>]*>", r"</\w+>"),
    "css": (r"^[.#]?[\w-]+( [.#]?[\w-]+)*\s*\{", r"^\s*[\w-]+:\s*[^;]+;\s*$", r"@media\b"),
    "kotlin": (r"\bfun \w+\(", r"\bval \w+", r"\bvar \w+: \w+", r"\bprintln\(", r"\bdata class\b"),
    "swift": (r"\bfunc \w+\(", r"\bguard let\b", r"\bimport (UIKit|Foundation|SwiftUI)\b", r"\bvar \w+: \w+"),
}
_TYPESCRIPT = (r":\s*(string|number|boolean|any|void|unknown)\b", r"^\s*(export )?interface \w+",
               r"^\s*type \w+ = ", r"\b(public|private|readonly) \w+:", r"\bas const\b")


def canonical_language(name: str | None) -> str | None:
    """A language name or tag as a fence tag ('py' and 'Python' → 'python'); None when blank."""
    tag = re.sub(r"\s+", "", (name or "").strip().lower())
    if not tag or tag in ("text", "txt", "plaintext"):
        return None
    for candidate in (tag, tag.rstrip("0123456789.")):
        ext = extension_for(candidate)
        known = (language_for_extension(ext) if ext != "txt" else None) or CODE_LANGUAGES.get(f".{candidate}")
        if known:
            return {"jsx": "javascript", "tsx": "typescript"}.get(known, known)
    return tag


def language_name(language: str | None) -> str:
    """How to show a language to people ('csharp' → 'C#')."""
    if not language or language == "text":
        return "unknown language"
    return _NAMES.get(language) or (language.upper() if language in _UPPER else language.capitalize())


def detect_language(code: str) -> str | None:
    """Guess a language from the content alone; None when nothing stands out."""
    text = code.strip()
    if text[:1] in "{[":
        try:
            json.loads(text)
            return "json"
        except ValueError:
            pass
    if text.startswith("#!") and code_language("", text):
        return code_language("", text)

    def score(patterns: tuple[str, ...]) -> int:
        return sum(1 for p in patterns if re.search(p, text, re.M))

    scores = {language: score(patterns) for language, patterns in _HEURISTICS.items()}
    best = max(scores, key=lambda language: scores[language])
    if scores[best] < 2:
        return None
    if best == "javascript" and score(_TYPESCRIPT):
        return "typescript"
    return best
