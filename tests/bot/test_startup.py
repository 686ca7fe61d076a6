"""Start-up: the bot's process does not load what only the document worker uses."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
WORKER_ONLY = ("pypdf", "bs4", "docx")  # the parsers: ~0.2 s of start-up the bot never uses itself


def test_the_bot_process_leaves_the_parsers_to_the_worker() -> None:
    cogs = sorted(f"cogs.{p.stem}" for p in (ROOT / "cogs").glob("*.py") if p.stem != "__init__")
    probe = (
        f"import sys, importlib, bot.__main__, bot.services\n"
        f"for name in {cogs!r}: importlib.import_module(name)\n"
        f"print(sorted(m for m in {WORKER_ONLY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
