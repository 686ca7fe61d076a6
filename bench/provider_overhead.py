"""The bot's CPU per streamed chat request through the openai SDK, against a plain aiohttp request.

Run by hand from the checkout (not a test):

    .venv/bin/python bench/provider_overhead.py [--requests 3000] [--concurrency 25] [--words 0]

Each variant sends the same streamed chat request (a 40-message conversation, encoded once by
bot/chat_body.py as the bot does) to the fake model in its own process with no latency, `--concurrency`
at a time, and prints the CPU this process spent per request (the fake model's is not counted), with
its ratio to the baseline measured in the same run:

  sdk       what the bot does (bot/llm.py): AsyncOpenAI.post on the product's transport, AsyncStream
  sdk+lines the SDK's request path, the body read as raw lines (no AsyncStream / SSE decoder)
  aiohttp   baseline: one aiohttp request, "data:" lines parsed by hand

`--words N` makes the reply N words long (N+2 stream events) instead of an echo of ~12 words.
Each variant runs twice, interleaved, as this machine's speed drifts from minute to minute.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script: make `bot` and `bench` importable

import aiohttp  # noqa: E402
import httpx2  # noqa: E402
import openai  # noqa: E402
from openai.types.chat import ChatCompletion  # noqa: E402

from bench.load import API_KEY, start_model  # noqa: E402  (the fake model in its own process)
from bot.chat_body import chat_body  # noqa: E402
from bot.http import provider_http_client  # noqa: E402

PARAMS = {"model": "gpt-4o-mini", "stream": True, "stream_options": {"include_usage": True}}
Send = Callable[[], Awaitable[str]]


def conversation(words: int) -> list[dict[str, Any]]:
    """40 messages; the fake model echoes the last one."""
    messages: list[dict[str, Any]] = [
        {"role": ("user", "assistant")[i % 2], "content": f"[U1] turn {i}: how is the release going?"}
        for i in range(39)
    ]
    last = " ".join(f"w{i}" for i in range(words)) if words else "[U1] and the tests?"
    return [*messages, {"role": "user", "content": last}]


def deltas(chunk: dict[str, Any]) -> list[str]:
    """The text deltas of one stream chunk."""
    return [d for c in chunk.get("choices") or () if (d := (c.get("delta") or {}).get("content"))]


async def via_sdk(base: str, messages: list[dict[str, Any]], lines: bool) -> tuple[Send, Any]:
    client = openai.AsyncOpenAI(
        api_key=API_KEY, base_url=base, max_retries=0, http_client=provider_http_client()
    )

    async def send() -> str:
        body = chat_body(PARAMS, messages)
        if not lines:
            stream = await client.post("/chat/completions", content=body, cast_to=ChatCompletion, stream=True,
                                       stream_cls=openai.AsyncStream[object])
            return "".join([d async for chunk in stream for d in deltas(chunk)])  # type: ignore[arg-type]
        response = await client.post("/chat/completions", content=body, cast_to=httpx2.Response, stream=True)
        out: list[str] = []
        try:
            async for line in response.aiter_lines():
                if line.startswith("data: ") and line != "data: [DONE]":
                    out += deltas(json.loads(line[6:]))
        finally:
            await response.aclose()
        return "".join(out)

    return send, client


async def via_aiohttp(base: str, messages: list[dict[str, Any]]) -> tuple[Send, Any]:
    session = aiohttp.ClientSession()
    headers = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}

    async def send() -> str:
        out: list[str] = []
        body = chat_body(PARAMS, messages)
        async with session.post(f"{base}/chat/completions", data=body, headers=headers) as r:
            async for line in r.content:
                if line.startswith(b"data: ") and line[6:].strip() != b"[DONE]":
                    out += deltas(json.loads(line[6:]))
        return "".join(out)

    return send, session


async def measure(send: Send, requests: int, concurrency: int) -> float:
    """CPU milliseconds per request."""
    assert (await send()).startswith(("echo", "w0")), "the fake model's answer"
    gate = asyncio.Semaphore(concurrency)

    async def one() -> None:
        async with gate:
            await send()

    started = time.process_time()
    await asyncio.gather(*(one() for _ in range(requests)))
    return (time.process_time() - started) / requests * 1000


async def main(args: argparse.Namespace, base: str) -> None:
    messages = conversation(args.words)
    results: dict[str, list[float]] = {"sdk": [], "sdk+lines": [], "aiohttp": []}
    for _ in range(2):
        for name in results:
            if name == "aiohttp":
                send, holder = await via_aiohttp(base, messages)
            else:
                send, holder = await via_sdk(base, messages, lines=name == "sdk+lines")
            results[name].append(await measure(send, args.requests, args.concurrency))
            await holder.close()
    baseline = min(results["aiohttp"])
    print(f"{args.requests} streamed requests per run, {args.concurrency} at a time, "
          f"reply {'an echo' if not args.words else f'{args.words} words'}; CPU per request (best of 2):")
    for name, values in results.items():
        best = min(values)
        print(f"  {name:<10} {best:.3f} ms  ({best / baseline:.2f}x the aiohttp baseline; runs "
              f"{', '.join(f'{v:.3f}' for v in values)})")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=25)
    parser.add_argument("--words", type=int, default=0, help="reply length in words (default: an echo)")
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    fake_model, url = start_model(0.0, 3600)  # no latency: only the bot's side is measured
    try:
        asyncio.run(main(arguments, url))
    finally:
        fake_model.communicate(timeout=10)  # closing its stdin stops it
