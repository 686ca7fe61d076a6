"""Code help through Discord: /code subcommands, the paste-in modal, the message menus, files and errors."""

from __future__ import annotations

import asyncio

import discord
import pytest

from bot.services import Services
from tests.fakes.discord import FakeDiscord, InteractionRecord
from tests.fakes.openai_server import FakeOpenAI

BUGGY = b"def average(values):\n    return sum(values) / len(values) + 1\n"
FIXED = "def average(values):\n    if not values:\n        return 0.0\n    return sum(values) / len(values)"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


@pytest.fixture
def world(fd: FakeDiscord) -> dict:
    guild = fd.guild("Team")
    return {
        "guild": guild,
        "general": fd.text_channel(guild, "general"),
        "alice": fd.member(guild, "alice", display_name="Alice", permissions=discord.Permissions.none()),
    }


async def code(fd: FakeDiscord, world: dict, sub: str, **options: object) -> InteractionRecord:
    return await fd.slash(f"code {sub}", options, user=world["alice"], channel=world["general"])


def prompt(fake_ai: FakeOpenAI) -> tuple[str, str]:
    system, user = fake_ai.last_request("/chat/completions").json["messages"]
    return system["content"], user["content"]


def files_of(rec: InteractionRecord) -> dict[str, str]:
    return {f.filename: f.text for m in rec.messages for f in m.files}


# ------------------------------------------------------------------------------------------ subcommands


async def test_review_of_a_file_streams_with_language_and_numbered_findings(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    fake_ai.reply_with("1. **high** · L2: fails on [].\n```\nif not values:\n    return 0.0\n```")
    rec = await code(fd, world, "review", file=("stats.py", BUGGY), instructions="focus on edge cases")
    assert rec.deferred and not rec.ephemeral
    assert rec.original.contents[0].startswith("…")  # the placeholder came first
    assert rec.original.content.startswith("**Code review** · Python · `stats.py`\n\n1. **high** · L2: fails")
    assert "```python\nif not values:" in rec.original.content  # the untagged fence got the language
    system, user = prompt(fake_ai)
    assert "numbered findings" in system and "severity" in system
    assert "1 | def average(values):" in user and "My extra instructions: focus on edge cases" in user
    assert not rec.original.pings_anyone
    fd.assert_clean()


async def test_explain_pasted_code_with_the_language_option(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    fake_ai.reply_with("It prints one line.")
    rec = await code(fd, world, "explain", code='fmt.Println("hi")', language="golang")
    assert rec.original.content == "**Code explanation** · Go\n\nIt prints one line."
    system, user = prompt(fake_ai)
    assert "Explain this Go code" in system and "step by step" in system
    assert '```go\n1 | fmt.Println("hi")\n```' in user


async def test_language_is_detected_from_the_content(fd: FakeDiscord, world: dict) -> None:
    rec = await code(fd, world, "explain", code="SELECT name FROM users WHERE id = 1")
    assert rec.original.content.startswith("**Code explanation** · SQL")


async def test_fix_of_a_file_attaches_the_fixed_file_and_the_diff(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    fake_ai.reply_with(f"```python\n{FIXED}\n```\n**What changed**\n- L2: guard the empty list, drop `+ 1`.")
    rec = await code(fd, world, "fix", file=("stats.py", BUGGY))
    files = files_of(rec)
    assert sorted(files) == ["changes.diff", "stats_fixed.py"]
    assert files["stats_fixed.py"] == FIXED + "\n"
    diff = files["changes.diff"]
    assert diff.startswith("--- a/stats.py\n+++ b/stats.py\n")
    assert "-    return sum(values) / len(values) + 1\n" in diff and "+    if not values:\n" in diff
    assert "corrected code in full" in prompt(fake_ai)[0]


async def test_tests_long_file_goes_as_a_named_test_file(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    cases = "\n\n".join(f"def test_average_{i}():\n    assert average([{i}, {i}]) == {i}" for i in range(80))
    fake_ai.reply_with(f"```python\nfrom stats import average\n\n{cases}\n```\nRun it with `pytest`.")
    rec = await code(fd, world, "tests", file=("stats.py", BUGGY))
    assert list(files_of(rec)) == ["test_stats.py"]
    assert files_of(rec)["test_stats.py"].startswith("from stats import average")
    assert "*(full code attached as `test_stats.py`)*" in rec.original.content
    assert "pytest" in prompt(fake_ai)[0] and "runnable test file" in prompt(fake_ai)[0]


async def test_convert_needs_a_target_and_always_gives_the_file(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    fake_ai.reply_with("```\nfunc Average(v []float64) float64 { return 0 }\n```\nNotes: no exceptions.")
    rec = await code(fd, world, "convert", language="Go", file=("stats.py", BUGGY))
    assert rec.original.content.startswith("**Code conversion** · Python → Go · `stats.py`")
    assert "```go\nfunc Average" in rec.original.content
    assert files_of(rec) == {"stats.go": "func Average(v []float64) float64 { return 0 }\n"}
    assert "idiomatic Go" in prompt(fake_ai)[0] and "does not map directly" in prompt(fake_ai)[0]
    command = fd.tree.get_command("code").get_command("convert")  # type: ignore[union-attr]
    assert next(p for p in command.parameters if p.name == "language").required


async def test_language_option_autocompletes(fd: FakeDiscord, world: dict) -> None:
    choices = await fd.autocomplete(
        "code convert", "language", "typ", user=world["alice"], channel=world["general"]
    )
    assert [(c.name, c.value) for c in choices] == [("TypeScript", "typescript")]


# ------------------------------------------------------------------------------------------ modal


async def test_without_code_a_modal_opens_and_its_submission_runs_the_task(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    rec = await code(fd, world, "fix", instructions="keep it short")
    assert rec.modal is not None and fake_ai.requests_to("/chat/completions") == []
    field = rec.modal.fields["Code"]
    assert field["style"] == 2 and field["max_length"] == 4000  # a paragraph box, Discord's maximum
    assert rec.modal.fields["Instructions (optional)"]["required"] is False
    fake_ai.reply_with("```python\nx = [1, 2]\nprint(x[1])\n```\n- L2: index 2 is out of range")
    done = await fd.submit_modal({"Code": "x = [1, 2]\nprint(x[2])", "Instructions (optional)": "no comment"})
    assert done.original.content.startswith("**Code fix** · Python\n\n```python\nx = [1, 2]")
    assert files_of(done) == {"fixed.py": "x = [1, 2]\nprint(x[1])\n"}  # pasted code: a file, no diff
    user = prompt(fake_ai)[1]
    assert "print(x[2])" in user and "My extra instructions: keep it short\nno comment" in user


async def test_empty_modal_gets_a_clear_message(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    await code(fd, world, "review")
    done = await fd.submit_modal({"Code": "  \n \n"})
    assert done.ephemeral and "code box was empty" in done.last.content
    assert fake_ai.requests_to("/chat/completions") == []


# ------------------------------------------------------------------------------------------ context menus


async def test_explain_code_menu_takes_the_fenced_blocks(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    message = await fd.send_message(
        world["general"], world["alice"], "Why is this slow?\n```rust\nfn main() { let v = vec![1]; }\n```"
    )
    rec = await fd.context_menu("Explain code", message, user=world["alice"])
    assert rec.original.content.startswith("**Code explanation** · Rust")
    system, user = prompt(fake_ai)
    assert "Explain this Rust code" in system
    assert "fn main() { let v = vec![1]; }" in user
    assert "The message around the code said:\nWhy is this slow?" in user


async def test_code_menus_read_a_forwarded_message(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    # A forward has no text or files of its own: Discord carries the original's in a snapshot.
    original = await fd.send_message(
        world["general"], world["alice"], "slow?\n```rust\nfn main() { let v = vec![1]; }\n```"
    )
    forwarded = await fd.forward_message(world["general"], world["alice"], original)
    assert forwarded.content == "" and not forwarded.attachments
    rec = await fd.context_menu("Explain code", forwarded, user=world["alice"])
    assert rec.original.content.startswith("**Code explanation** · Rust")
    assert "fn main() { let v = vec![1]; }" in prompt(fake_ai)[1]

    with_file = await fd.send_message(
        world["general"], world["alice"], "check", attachments=[("stats.py", BUGGY)]
    )
    forwarded = await fd.forward_message(world["general"], world["alice"], with_file)
    rec = await fd.context_menu("Review code", forwarded, user=world["alice"])
    assert rec.original.content.startswith("**Code review** · Python · `stats.py`")
    assert "File `stats.py` (Python)" in prompt(fake_ai)[1]


async def test_review_code_menu_reads_attached_files_and_skips_images(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    message = await fd.send_message(
        world["general"],
        world["alice"],
        "can someone check this?",
        attachments=[("stats.py", BUGGY), ("screenshot.png", PNG)],
    )
    rec = await fd.context_menu("Review code", message, user=world["alice"])
    assert rec.original.content.startswith("**Code review** · Python · `stats.py`")
    user = prompt(fake_ai)[1]
    assert "File `stats.py` (Python)" in user and "can someone check this?" in user
    assert "Skipped" not in rec.original.content
    fd.assert_clean()


async def test_menu_on_a_message_without_code_says_so(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    message = await fd.send_message(
        world["general"], world["alice"], "", attachments=[("screenshot.png", PNG)]
    )
    rec = await fd.context_menu("Review code", message, user=world["alice"])
    assert rec.ephemeral and "found no code in that message" in rec.last.content
    assert fake_ai.requests_to("/chat/completions") == []


# ------------------------------------------------------------------------------------------ long replies


async def test_long_answers_split_without_breaking_fences(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    snippet = "\n".join(f"total += values[{i}]" for i in range(40))
    findings = "\n\n".join(f"{i}. **low** · L{i}: a long finding. " + "Details. " * 30 for i in range(1, 8))
    fake_ai.reply_with(f"{findings}\n```python\n{snippet}\n```\nVerdict: fine.")
    rec = await code(fd, world, "review", file=("stats.py", BUGGY))
    assert len(rec.messages) >= 2
    assert all(len(m.content) <= 2000 and m.content.count("```") % 2 == 0 for m in rec.messages)
    assert rec.messages[-1].content.endswith("Verdict: fine.")


async def test_long_code_in_an_explanation_goes_as_a_file(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    long_code = "\n".join(f"const value{i} = compute({i});" for i in range(120))
    fake_ai.reply_with(f"A rewrite for comparison:\n```\n{long_code}\n```")
    rec = await code(fd, world, "explain", code="const a = compute(1); console.log(a === 1);")
    assert files_of(rec) == {"snippet.js": long_code + "\n"}  # the untagged fence got the detected language


# ------------------------------------------------------------------------------------------ memory


async def test_code_help_is_its_own_request_but_a_follow_up_mention_sees_it(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    await fd.send_message(
        world["general"], world["alice"], f"{fd.bot_mention} the code word is apple", mentions_bot=True
    )
    fake_ai.reply_with(f"```python\n{FIXED}\n```\n- L2: guard the empty list")
    await code(fd, world, "fix", file=("stats.py", BUGGY))
    assert "apple" not in str(fake_ai.last_request("/chat/completions").json["messages"])
    fake_ai.reply_with("Because an empty list no longer divides by zero.")
    await fd.send_message(
        world["general"], world["alice"], f"{fd.bot_mention} why is that change safer?", mentions_bot=True
    )
    remembered = str(fake_ai.last_request("/chat/completions").json["messages"])
    assert "guard the empty list" in remembered and "return sum(values) / len(values) + 1" in remembered


# ------------------------------------------------------------------------------------------ bad input


async def test_binary_file_is_refused(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    rec = await code(fd, world, "review", file=("photo.py", PNG))
    assert rec.ephemeral and "'photo.py'" in rec.last.content and "PNG image" in rec.last.content
    assert "Code help reads source code" in rec.last.content
    assert fake_ai.requests_to("/chat/completions") == []


async def test_unsupported_file_is_refused(fd: FakeDiscord, world: dict) -> None:
    rec = await code(fd, world, "explain", file=("report.pdf", b"%PDF-1.7\n1 0 obj\n"))
    assert rec.ephemeral and "'report.pdf' is a PDF document, not code" in rec.last.content


async def test_code_over_the_limit_says_the_limit(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    big = b"x = 1\n" * 5000
    rec = await code(fd, world, "review", file=("big.py", big))
    assert rec.ephemeral and "29,999 characters" in rec.last.content and "at most 20,000" in rec.last.content
    assert fake_ai.requests_to("/chat/completions") == []


async def test_file_over_the_upload_limit_is_not_downloaded(
    fd: FakeDiscord, world: dict, services: Services
) -> None:
    services.settings.max_upload_mb = 0.001
    rec = await code(fd, world, "fix", file=("big.py", b"x = 1\n" * 400))
    assert rec.ephemeral and "'big.py' is" in rec.last.content and "the limit is" in rec.last.content
    assert not [c for c in fd.calls if "attachments" in c.path and c.method == "GET"]


async def test_provider_failure_replaces_the_placeholder(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    fake_ai.fail_next("quota")
    rec = await code(fd, world, "explain", code="print(1)", language="python")
    assert "out of quota" in rec.original.content and "reading the code" not in rec.original.content


async def test_menu_notes_a_file_it_skipped_and_refuses_when_nothing_else_is_code(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    pdf = ("notes.pdf", b"%PDF-1.7\n1 0 obj\n")
    with_code = await fd.send_message(
        world["general"], world["alice"], "```py\nx = 1\n```", attachments=[pdf]
    )
    rec = await fd.context_menu("Explain code", with_code, user=world["alice"])
    assert "_Skipped a file: 'notes.pdf' is a PDF document, not code." in rec.original.content
    only_binary = await fd.send_message(world["general"], world["alice"], "", attachments=[("tool.py", PNG)])
    refused = await fd.context_menu("Review code", only_binary, user=world["alice"])
    assert refused.ephemeral and "'tool.py'" in refused.last.content and "PNG image" in refused.last.content


async def test_a_japanese_reader_gets_code_help_errors_in_japanese(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    fake_ai.fail_next("quota")
    rec = await fd.slash(
        "code explain", {"code": "print(1)"}, user=world["alice"], channel=world["general"], locale="ja"
    )
    assert "利用枠を使い切りました" in rec.original.content
    assert rec.original.contents[0] == "… コードを読んでいます"  # the placeholder too


async def test_several_files_on_a_message_are_read_within_discords_three_seconds(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = discord.Attachment.read

    async def over_the_cdn(self: discord.Attachment, **kwargs: object) -> bytes:
        await asyncio.sleep(0.35)  # a download's round trip
        return await real(self, **kwargs)

    monkeypatch.setattr(discord.Attachment, "read", over_the_cdn)
    files = [(f"part{i}.py", f"def f{i}():\n    return {i}\n".encode()) for i in range(9)]
    message = await fd.send_message(world["general"], world["alice"], "review these", attachments=files)
    rec = await fd.context_menu("Review code", message, user=world["alice"])
    assert rec.deferred and "part8.py" in rec.original.content


async def test_a_code_file_too_long_to_read_is_refused_before_downloading(
    fd: FakeDiscord, world: dict, services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def no_download(self: discord.Attachment, **kwargs: object) -> bytes:
        raise AssertionError("downloaded a file it was going to refuse")

    monkeypatch.setattr(discord.Attachment, "read", no_download)
    limit = services.settings.context_tokens  # any size over the code limit's bytes will do
    big = b"x = 1\n" * (limit * 4)
    rec = await code(fd, world, "review", file=("big.py", big))
    assert rec.ephemeral and "'big.py' is" in rec.last.content and "the limit is" in rec.last.content


@pytest.mark.parametrize("name", ["fix.patch", "changes.diff", "icon.svg", "tsconfig.jsonc", "boot.asm"])
async def test_any_plain_text_file_is_read_whatever_its_extension(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI, name: str
) -> None:
    rec = await code(fd, world, "review", file=(name, b"--- a/x\n+++ b/x\n-old = 1\n+new = 2\n"))
    assert not rec.ephemeral, rec.last.content
    assert "+new = 2" in fake_ai.last_request("/chat/completions").json["messages"][-1]["content"]


async def test_a_binary_file_with_an_unknown_extension_is_still_refused(fd: FakeDiscord, world: dict) -> None:
    rec = await code(fd, world, "review", file=("blob.bin2", bytes(range(256)) * 8))
    assert rec.ephemeral and "Code help reads" in rec.last.content


async def test_a_fix_cut_off_at_the_length_limit_says_so_and_keeps_its_notes_out_of_the_code(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    body = "\n".join(f"    total_{i} = compute_value({i}, factor={i * 3})" for i in range(1500))
    fake_ai.reply_with(f"```python\ndef average(values):\n{body}\n```\n**What changed**\n- L2: guard")
    buggy = b"def average(values):\n    return sum(values) / len(values) + 1\n"
    rec = await code(fd, world, "fix", file=("stats.py", buggy))
    shown = "\n".join(m.content for m in rec.messages)
    assert "cut off, so the code may be incomplete" in shown
    files = {f.filename: f.text for m in rec.messages for f in m.files}
    assert files and not any("cut off" in text or "_The answer" in text for text in files.values())
    assert "There is no file" not in shown and "no code block" not in shown


async def test_a_japanese_reader_gets_code_file_refusals_in_japanese(fd: FakeDiscord, world: dict) -> None:
    rec = await fd.slash(
        "code review", {"file": ("empty.py", b"\n\n")}, user=world["alice"], channel=world["general"],
        locale="ja",
    )
    assert rec.last.content.endswith("「empty.py」は空で、コードが入っていません。")


SJIS_SOURCE = "# 平均を計算する\ndef average(values):\n    return sum(values) / len(values) + 1\n"


async def fix_shift_jis(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI, fixed: str
) -> tuple[InteractionRecord, dict[str, bytes], bytes]:
    """/code fix on SJIS_SOURCE as a Shift_JIS file, the model answering `fixed`: the reply, its files
    and the fixed file's bytes."""
    fake_ai.reply_with(f"```python\n{fixed}```\n**What changed**\n- L3: no + 1")
    rec = await code(fd, world, "fix", file=("stats.py", SJIS_SOURCE.encode("cp932")))
    files = {f.filename: f.data for m in rec.messages for f in m.files}
    return rec, files, next(data for name, data in files.items() if name != "changes.diff")


async def test_a_fixed_shift_jis_file_comes_back_in_shift_jis(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    fixed = "# 平均を計算する\ndef average(values):\n    return sum(values) / len(values)\n"
    _, files, fixed_file = await fix_shift_jis(fd, world, fake_ai, fixed)
    assert fixed_file == fixed.encode("cp932")  # not UTF-8: the project's editors and tools expect Shift_JIS
    assert "-    return sum(values) / len(values) + 1" in files["changes.diff"].decode("cp932")


async def test_a_fix_shift_jis_cannot_hold_comes_back_in_utf8_and_says_so(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    fixed = "# 平均を計算する ✅\ndef average(values):\n    return sum(values) / len(values)\n"
    rec, _, fixed_file = await fix_shift_jis(fd, world, fake_ai, fixed)
    assert fixed_file.decode("utf-8") == fixed
    note = "The fixed file is UTF-8: the new code has characters Shift_JIS can't hold."
    assert note in rec.messages[-1].content
