"""Start-up: the bot's process does not load what only the document worker uses, and loads LlamaIndex only
when it opens the document index, in a thread, while it connects (bot/documents.py)."""

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


def test_llama_index_loads_only_when_the_document_index_opens(tmp_path: Path) -> None:
    # What `python -m bot` imports and builds before it connects, then what opening the index adds.
    cogs = sorted(f"cogs.{p.stem}" for p in (ROOT / "cogs").glob("*.py") if p.stem != "__init__")
    probe = f"""
import asyncio, importlib, sys, threading
import bot.__main__, bot.app, bot.services
from bot.config import Settings
for name in {cogs!r}: importlib.import_module(name)

def loaded():  # (finding its bundled tiktoken tables imports only the empty namespace package `llama_index`)
    return "llama_index.core" in sys.modules

async def main():
    settings = Settings(
        _env_file=None, discord_token="t", openai_api_key="sk-probe", data_dir={str(tmp_path)!r}
    )
    services = await bot.services.Services.create(settings, open_documents=False)
    print("before", loaded(), services.documents.stack is None)
    imported_in = []
    original = bot.documents.open_index
    def spy(index_dir):
        imported_in.append(threading.current_thread() is not threading.main_thread())
        return original(index_dir)
    bot.documents.open_index = spy
    stack = await services.documents.opened()
    print("after", loaded(), stack is services.documents.stack, imported_in)
    await services.aclose()

asyncio.run(main())
"""
    out = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:2] == ["before False True", "after True True [True]"], out.stderr
