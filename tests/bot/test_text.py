"""Discord-safe text: limits, balanced fences, no lost content, reasoning hidden, code as files."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text import (
    code_filename,
    extension_for,
    language_for_extension,
    plan_reply,
    split_message,
    strip_reasoning,
    truncate,
)

FENCE_LINE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def fences_balanced(message: str) -> bool:
    open_marker = None
    for line in message.split("\n"):
        m = FENCE_LINE.match(line)
        if not m:
            continue
        if open_marker is None:
            open_marker = m.group(1)
        elif line.strip() and set(line.strip()) == {open_marker[0]} and len(line.strip()) >= len(open_marker):
            open_marker = None
    return open_marker is None


def letters(text: str) -> str:
    """The text without fences and whitespace: what must survive splitting."""
    lines = [ln for ln in text.split("\n") if not FENCE_LINE.match(ln)]
    return re.sub(r"\s+", "", "".join(lines))


line = st.one_of(
    st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r`~"), max_size=300),
    st.sampled_from(["```python", "```", "~~~", "```js", "", "日本語の文章です。これはテスト！", "x" * 2500]),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(line, max_size=60), st.integers(min_value=40, max_value=2000))
def test_every_message_fits_and_fences_balance(lines: list[str], limit: int) -> None:
    text = "\n".join(lines)
    messages = split_message(text, limit)
    assert all(len(m) <= limit for m in messages)
    assert all(fences_balanced(m) for m in messages)
    assert letters("\n".join(messages)) == letters(text)


def test_short_text_is_one_message() -> None:
    assert split_message("hello") == ["hello"]
    assert split_message("   \n") == []


def test_code_block_is_closed_and_reopened_with_its_language() -> None:
    code = "\n".join(f"value_{i} = compute({i})" for i in range(200))
    messages = split_message(f"Here:\n```python\n{code}\n```\nDone.")
    assert len(messages) > 1
    for m in messages[1:]:
        assert m.startswith("```python\n")
    for m in messages[:-1]:
        assert m.endswith("```")
    assert messages[-1].endswith("Done.")


def test_long_japanese_line_breaks_at_punctuation() -> None:
    text = "これは長い文章です。" * 300
    messages = split_message(text, 2000)
    assert all(len(m) <= 2000 for m in messages)
    assert all(m.endswith("。") for m in messages)


def test_crlf_is_normalised() -> None:
    assert split_message("a\r\nb") == ["a\nb"]


def test_strip_reasoning_cases() -> None:
    assert strip_reasoning("<think>plan</think>Answer") == "Answer"
    assert strip_reasoning("Before <think>still thinking") == "Before "
    assert strip_reasoning("hidden start</think>\nAnswer") == "Answer"
    assert strip_reasoning("a <THINKING>x</THINKING> b") == "a  b"
    assert strip_reasoning("Answer <thi") == "Answer "
    assert strip_reasoning("x < y and <b>") == "x < y and <b>"


def test_long_code_goes_to_a_file_with_the_right_extension() -> None:
    code = "\n".join(f"fn f{i}() {{}}" for i in range(300))
    small = "```ts\nconst a = 1;\n```"
    reply = plan_reply(f"Intro\n```rust\n{code}\n```\n{small}\n```rust\n{code}\n```")
    assert [name for name, _ in reply.files] == ["snippet.rs", "snippet-2.rs"]
    assert reply.files[0][1].decode().startswith("fn f0()")
    assert "const a = 1;" in reply.messages[0] and "snippet.rs" in reply.messages[0]
    assert all(len(m) <= 2000 for m in reply.messages)


def test_unknown_language_file_is_txt() -> None:
    reply = plan_reply("```\n" + "x\n" * 2000 + "```")
    assert reply.files[0][0] == "code.txt"


def test_language_tables() -> None:
    assert extension_for("Python") == "py" and extension_for("c++") == "cpp" and extension_for("??") == "txt"
    assert language_for_extension(".rs") == "rust" and language_for_extension("exe") is None
    assert code_filename("go") == "snippet.go"


def test_truncate() -> None:
    assert truncate("abcdef", 4) == "abc…"
    assert truncate("abc", 4) == "abc"
