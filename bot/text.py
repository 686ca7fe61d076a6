"""Discord-safe text: hide model reasoning, split at 2000 keeping code fences whole, long code as files."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

DISCORD_LIMIT = 2000
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([^`\s]*)[^`]*$")
_TAGS = "think|thinking|reasoning"
_BLOCK = re.compile(rf"<({_TAGS})>.*?</\1\s*>", re.S | re.I)
_OPEN = re.compile(rf"<({_TAGS})>", re.I)
_CLOSE = re.compile(rf"</({_TAGS})\s*>", re.I)
_SOFT_BREAKS = ("\n", "。", "！", "？", "、", ". ", "! ", "? ", " ")

LANGUAGE_EXTENSIONS: dict[str, str] = {
    "python": "py",
    "py": "py",
    "javascript": "js",
    "js": "js",
    "jsx": "jsx",
    "typescript": "ts",
    "ts": "ts",
    "tsx": "tsx",
    "go": "go",
    "golang": "go",
    "rust": "rs",
    "rs": "rs",
    "java": "java",
    "c": "c",
    "h": "h",
    "cpp": "cpp",
    "c++": "cpp",
    "cc": "cpp",
    "cxx": "cpp",
    "hpp": "hpp",
    "csharp": "cs",
    "cs": "cs",
    "c#": "cs",
    "ruby": "rb",
    "rb": "rb",
    "php": "php",
    "swift": "swift",
    "kotlin": "kt",
    "kt": "kt",
    "scala": "scala",
    "bash": "sh",
    "sh": "sh",
    "shell": "sh",
    "zsh": "sh",
    "powershell": "ps1",
    "ps1": "ps1",
    "sql": "sql",
    "yaml": "yaml",
    "yml": "yaml",
    "json": "json",
    "toml": "toml",
    "ini": "ini",
    "xml": "xml",
    "html": "html",
    "css": "css",
    "scss": "scss",
    "markdown": "md",
    "md": "md",
    "lua": "lua",
    "r": "r",
    "dart": "dart",
    "haskell": "hs",
    "hs": "hs",
    "elixir": "ex",
    "ex": "ex",
    "erlang": "erl",
    "clojure": "clj",
    "perl": "pl",
    "pl": "pl",
    "dockerfile": "Dockerfile",
    "makefile": "mk",
    "diff": "diff",
    "patch": "diff",
    "vue": "vue",
    "svelte": "svelte",
    "zig": "zig",
    "nim": "nim",
    "ocaml": "ml",
    "fsharp": "fs",
    "julia": "jl",
    "matlab": "m",
    "objective-c": "m",
    "groovy": "groovy",
    "terraform": "tf",
    "hcl": "tf",
    "proto": "proto",
    "graphql": "graphql",
    "text": "txt",
    "txt": "txt",
    "plaintext": "txt",
}
_EXTENSION_LANGUAGES: dict[str, str] = {
    "py": "python",
    "js": "javascript",
    "mjs": "javascript",
    "cjs": "javascript",
    "jsx": "jsx",
    "ts": "typescript",
    "tsx": "tsx",
    "go": "go",
    "rs": "rust",
    "java": "java",
    "c": "c",
    "h": "c",
    "cpp": "cpp",
    "cc": "cpp",
    "cxx": "cpp",
    "hpp": "cpp",
    "hh": "cpp",
    "cs": "csharp",
    "rb": "ruby",
    "php": "php",
    "swift": "swift",
    "kt": "kotlin",
    "kts": "kotlin",
    "scala": "scala",
    "sh": "bash",
    "bash": "bash",
    "zsh": "bash",
    "ps1": "powershell",
    "sql": "sql",
    "yaml": "yaml",
    "yml": "yaml",
    "json": "json",
    "toml": "toml",
    "ini": "ini",
    "xml": "xml",
    "html": "html",
    "htm": "html",
    "css": "css",
    "scss": "scss",
    "md": "markdown",
    "lua": "lua",
    "r": "r",
    "dart": "dart",
    "hs": "haskell",
    "ex": "elixir",
    "exs": "elixir",
    "erl": "erlang",
    "clj": "clojure",
    "pl": "perl",
    "vue": "vue",
    "svelte": "svelte",
    "zig": "zig",
    "ml": "ocaml",
    "fs": "fsharp",
    "jl": "julia",
    "groovy": "groovy",
    "tf": "terraform",
    "proto": "proto",
    "graphql": "graphql",
    "diff": "diff",
}


def extension_for(language: str) -> str:
    """The usual file extension for a language tag ('txt' if unknown)."""
    return LANGUAGE_EXTENSIONS.get(language.strip().lower(), "txt")


def language_for_extension(ext: str) -> str | None:
    """The language of a file extension (with or without the dot), if it is code."""
    return _EXTENSION_LANGUAGES.get(ext.lower().lstrip("."))


def strip_reasoning(text: str) -> str:
    """Remove <think>…</think> blocks; an unclosed one (still streaming) hides everything after it."""
    first_close = _CLOSE.search(text)
    first_open = _OPEN.search(text)
    if first_close and (first_open is None or first_open.start() > first_close.start()):
        text = text[first_close.end() :]  # the model started inside its reasoning
    text = _BLOCK.sub("", text)
    opened = _OPEN.search(text)
    if opened:
        text = text[: opened.start()]
    partial = text.rfind("<")
    if partial != -1 and any(f"<{t}>".startswith(text[partial:].lower()) for t in _TAGS.split("|")):
        text = text[:partial]  # a tag still arriving
    return text.lstrip("\n") if first_close or opened else text


@dataclass(slots=True)
class _Fence:
    marker: str
    lang: str

    def closes(self, line: str) -> bool:
        stripped = line.strip()
        return (
            len(stripped) >= len(self.marker)
            and set(stripped) == {self.marker[0]}
            and len(line) - len(line.lstrip(" ")) <= 3
        )

    @property
    def opening(self) -> str:
        return self.marker + self.lang


def _next_fence(fence: _Fence | None, line: str) -> _Fence | None:
    """The fence state after a line."""
    if fence is not None:
        return None if fence.closes(line) else fence
    match = _FENCE.match(line)
    return _Fence(match.group(1), match.group(2)) if match else None


def _cut(piece: str, room: int) -> int:
    """Where to cut a too-long piece: the last soft break within `room`, else `room`."""
    window = piece[:room]
    for mark in _SOFT_BREAKS:
        at = window.rfind(mark)
        if at >= room // 3:
            return at + len(mark)
    return room


def split_message(text: str, limit: int = DISCORD_LIMIT) -> list[str]:
    """Split into messages of at most `limit` characters; code fences are closed and reopened."""
    text = text.replace("\r\n", "\n").strip("\n")
    if not text.strip():
        return []
    messages: list[str] = []
    current = ""
    fence: _Fence | None = None

    def flush() -> None:
        nonlocal current
        body = current.rstrip("\n")
        if fence is not None:
            body += "\n" + fence.marker
        if body.strip() and (fence is None or body.strip() != f"{fence.opening}\n{fence.marker}".strip()):
            messages.append(body)
        current = fence.opening + "\n" if fence is not None else ""

    for line in text.split("\n"):
        piece = line + "\n"
        after = _next_fence(fence, line)
        while piece:
            # Keep room for the closing fence the message will need if it ends after this line.
            reserve = len(after.marker) + 1 if after is not None else 0
            room = limit - len(current) - reserve
            if len(piece.rstrip("\n")) <= room:
                current += piece
                break
            if current.strip() and current != (fence.opening + "\n" if fence else ""):
                flush()
                continue
            take = _cut(piece, max(1, room))
            current += piece[:take].rstrip("\n")
            piece = piece[take:]
            flush()
        fence = after
    body = current.rstrip("\n")
    if fence is not None:
        body += "\n" + fence.marker
    if body.strip() and (fence is None or body.strip() != f"{fence.opening}\n{fence.marker}"):
        messages.append(body)
    return messages


@dataclass(slots=True)
class Reply:
    """A reply ready for Discord: messages to send and files to attach."""

    messages: list[str]
    files: list[tuple[str, bytes]] = field(default_factory=list)


def plan_reply(text: str, *, limit: int = DISCORD_LIMIT, max_inline_code: int = 1500) -> Reply:
    """Move code blocks longer than `max_inline_code` to attached files, then split the rest."""
    out: list[str] = []
    files: list[tuple[str, bytes]] = []
    used: dict[str, int] = {}
    fence: _Fence | None = None
    block: list[str] = []
    opening_line = ""
    for line in text.replace("\r\n", "\n").split("\n"):
        after = _next_fence(fence, line)
        if fence is None and after is not None:
            fence, block, opening_line = after, [], line
            continue
        if fence is not None and after is None:
            out.extend(_place_block(fence, opening_line, block, line, files, used, max_inline_code))
            fence = None
            continue
        if fence is not None:
            block.append(line)
        else:
            out.append(line)
    if fence is not None:  # an unclosed block at the end
        out.extend(_place_block(fence, opening_line, block, fence.marker, files, used, max_inline_code))
    return Reply(split_message("\n".join(out), limit), files)


def _place_block(
    fence: _Fence,
    opening: str,
    block: list[str],
    closing: str,
    files: list[tuple[str, bytes]],
    used: dict[str, int],
    max_inline: int,
) -> list[str]:
    code = "\n".join(block)
    if len(code) <= max_inline:
        return [opening, *block, closing]
    name = code_filename(fence.lang, used)
    files.append((name, (code + "\n").encode("utf-8")))
    return [f"*(code attached as `{name}`)*"]


def code_filename(language: str, used: dict[str, int] | None = None, stem: str = "snippet") -> str:
    """A file name for code in a language, numbered when the same name was used before."""
    ext = extension_for(language) if language else "txt"
    base = "code" if ext == "txt" else stem
    if ext == "Dockerfile":
        base, ext = "Dockerfile", ""
    key = f"{base}.{ext}" if ext else base
    if used is None:
        return key
    used[key] = used.get(key, 0) + 1
    n = used[key]
    if n == 1:
        return key
    return f"{base}-{n}.{ext}" if ext else f"{base}-{n}"


def truncate(text: str, limit: int, note: str = "…") -> str:
    """The text cut to at most `limit` characters, ending with `note` when cut."""
    if len(text) <= limit:
        return text
    return text[: max(0, limit - len(note))].rstrip() + note
