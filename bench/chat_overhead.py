"""The bot's own time per chat turn, with 100,000 turns in the channel and 1,000 channels in the database.

Run by hand from the checkout (not a test; pytest only collects tests/):

    .venv/bin/python bench/chat_overhead.py [--turns 200] [--baseline-turns 30] [--profile]

Measured per turn, on the real Store, LLM and ChatService against the fake OpenAI server:

  (a) from the start of ChatService.reply (the event) to the moment the streamed chat request is handed
      to the HTTP transport (it leaves for the model). When the turn folds old turns into the summary,
      the time spent waiting for the summary request's answer is the model's, and is subtracted.
  (b) from the last streamed chunk the bot received to the end of reply() (answer and usage stored).
      The final Discord edit is not part of the core and is not included.

The naive baseline runs the same turns with a Store whose open_turn makes a trip per statement and
loads the channel's whole history (Store.all_turns) to trim it in Python.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import itertools
import os
import pstats
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script: make `bot` and `tests.fakes` importable


from bench.chat_edges import EdgeLLM, Probe  # noqa: E402
from bench.chat_text import TextPool, make_text  # noqa: E402
from bot.chat import ChatService, TurnIn  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.memory import message_tokens, speaker_line  # noqa: E402
from bot.store import NewTurn, Store, Turn, TurnContext  # noqa: E402
from bot.tokens import ensure_tiktoken_offline  # noqa: E402
from tests.fakes.openai_server import FakeOpenAI  # noqa: E402

API_KEY = "sk-bench-0123456789"
DISCORD_TOKEN = "MTAxMjM0NTY3ODkw.bench-token.abcdefghijklmnop"
CHANNELS = 1_000
MEASURED_TURNS = 100_000
OTHER_TURNS = 100  # per other channel
GUILDS = 10
BASE_ID = 1_230_000_000_000_000_000  # snowflake-sized ids, as Discord's
MEASURED_CHANNEL = BASE_ID
GOAL_P50_MS = 5.0
GOAL_P99_MS = 20.0
WARMUP = 20
BASELINE_WARMUP = 2

_NAMES = ("Alice", "Bob", "Chen", "Dana", "Emeka", "Farah", "Gustav", "Hiro", "Ines", "Jonas", "Kim", "Lea")
_PERSONA = (
    "You help the platform team. Prefer short answers with concrete commands. When a question is about "
    "production, remind people of the change-freeze rules and link the runbook section if you know it. "
    "Use British spelling."
)


# --- the database -----------------------------------------------------------------------------------


def channel_ids() -> list[int]:
    """The measured channel first, then the other 999."""
    return [BASE_ID + i for i in range(CHANNELS)]


def guild_of(channel_id: int) -> int:
    """The server a channel belongs to."""
    return BASE_ID // 2 + (channel_id - BASE_ID) % GUILDS


async def seed(store: Store, pool: TextPool, rng: random.Random, keep_tokens: int) -> int:
    """Fill the database: 100,000 turns in the measured channel, 100 in each other channel, interleaved."""
    slots = [0] * MEASURED_TURNS + [i for i in range(1, CHANNELS) for _ in range(OTHER_TURNS)]
    rng.shuffle(slots)  # channels talk at the same time: their rows interleave in the table
    counters = [0] * CHANNELS
    user_tokens: dict[tuple[str, str], tuple[str, int]] = {}
    rows: list[tuple[int, int | None, int, str, str, str, int]] = []
    for index in slots:
        channel = BASE_ID + index
        n = counters[index]
        counters[index] += 1
        if n % 2 == 0:
            name = rng.choice(_NAMES)
            key = (name, rng.choice(pool.user))
            if key not in user_tokens:
                content = speaker_line(name, key[1], shared=True)
                user_tokens[key] = (content, message_tokens(content))
            content, tokens = user_tokens[key]
            author = _NAMES.index(name) + 1
            rows.append((channel, guild_of(channel), author, name, "user", content, tokens))
        else:
            content, tokens = rng.choice(pool.assistant)
            rows.append((channel, guild_of(channel), 0, "teambot", "assistant", content, tokens))
    await store.bulk_add_turns(rows)
    for channel in channel_ids():
        if channel % 7 == 0:
            await store.set_persona(channel, guild_of(channel), _PERSONA)
        await store.set_summary(channel, guild_of(channel), make_text(rng, 60, 0.0), 0)
    await store.set_persona(MEASURED_CHANNEL, guild_of(MEASURED_CHANNEL), _PERSONA)
    # A long-lived channel looks as it does just after a fold: a summary, and about half the budget
    # of recent turns kept verbatim after it.
    kept = await store.recent_turns(MEASURED_CHANNEL, keep_tokens)
    await store.set_summary(
        MEASURED_CHANNEL, guild_of(MEASURED_CHANNEL), make_text(rng, 230, 0.0), kept[0].id - 1
    )
    return len(rows)


async def naive_recent_turns(store: Store, channel_id: int, budget: int, *, after: int = 0) -> list[Turn]:
    """The newest turns after `after` that fit `budget`, found by loading every turn of the channel."""
    picked: list[Turn] = []
    used = 0
    for turn in reversed(await store.all_turns(channel_id)):
        if turn.id <= after or used + turn.tokens > budget:
            break
        used += turn.tokens
        picked.append(turn)
    picked.reverse()
    return picked


class NaiveStore(Store):
    """The baseline: build the conversation from the channel's whole history, trimmed in Python."""

    async def open_turn(self, new: NewTurn, budget: int) -> TurnContext:
        """Store.open_turn done naively: a trip per statement, the whole history loaded."""
        turn_id = await self.add_turn(**asdict(new))
        state = await self.channel_state(new.channel_id)
        pending = sum(t.tokens for t in await self.all_turns(new.channel_id) if t.id > state.summary_upto)
        recent = await naive_recent_turns(self, new.channel_id, budget, after=state.summary_upto)
        return TurnContext(turn_id, state, pending, recent)


# --- measuring ----------------------------------------------------------------------------------------


@dataclass(slots=True)
class Sample:
    """One turn's timings in milliseconds."""

    a: float
    b: float
    a_entry: float
    transit: float
    folded: bool
    messages: int
    body_kb: float

    @property
    def total(self) -> float:
        """(a) + (b)."""
        return self.a + self.b


@dataclass(slots=True)
class Bench:
    """The services of one run (product or baseline) over the same database."""

    settings: Settings
    store: Store
    llm: EdgeLLM
    chat: ChatService
    probe: Probe

    @classmethod
    async def open(cls, settings: Settings, store_class: type[Store] = Store) -> Bench:
        """Open the store and build the LLM and ChatService as Services.create does."""
        probe = Probe()
        store = await store_class(settings.database_path).open()
        llm = EdgeLLM(settings, store, probe)
        return cls(settings, store, llm, ChatService(store, llm, settings), probe)

    async def close(self) -> None:
        """Close the client and the database."""
        await self.llm.aclose()
        await self.store.close()


def make_turns(pool: TextPool, rng: random.Random) -> Callable[[int], TurnIn]:
    """A factory of user turns in the measured channel, from the team's members."""

    def turn(n: int) -> TurnIn:
        name = _NAMES[n % len(_NAMES)]
        return TurnIn(
            channel_id=MEASURED_CHANNEL,
            guild_id=guild_of(MEASURED_CHANNEL),
            author_id=_NAMES.index(name) + 1,
            author_name=name,
            content=rng.choice(pool.user),
            message_id=BASE_ID * 2 + n,
        )

    return turn


async def run_turn(bench: Bench, fake: FakeOpenAI, turn: TurnIn) -> Sample:
    """Answer one turn and read its timestamps."""
    shown = [""]

    def on_text(text: str) -> None:  # what LiveReply.update does: keep the latest text for the pump
        shown[0] = text

    start = time.perf_counter()
    bench.probe.bot_resumes()
    await bench.chat.reply(turn, on_text=on_text)
    bench.probe.bot_pauses()
    end = time.perf_counter()
    exchanges, entered = bench.probe.take()
    stream = exchanges[-1]
    if not stream.streamed or entered == 0.0:
        raise RuntimeError("the turn did not end with a streamed chat request")
    # The summary request of a fold is a model call: its waiting time is the model's, not the bot's.
    model_wait = sum(e.last_chunk - e.sent for e in exchanges[:-1])
    sent = fake.last_request("/chat/completions")
    ms = 1000.0
    return Sample(
        a=(stream.sent - start - model_wait) * ms,
        b=(end - stream.last_chunk) * ms,
        a_entry=(entered - start - model_wait) * ms,
        transit=(sent.received_at - stream.sent) * ms,
        folded=len(exchanges) > 1,
        messages=len(sent.json["messages"]),
        body_kb=len(sent.body) / 1024,
    )


async def measure(
    bench: Bench, fake: FakeOpenAI, turns: Callable[[int], TurnIn], count: int, warmup: int, first: int
) -> list[Sample]:
    """Run `warmup` unmeasured turns, then `count` measured ones."""
    samples = []
    for n in range(first, first + warmup + count):
        sample = await run_turn(bench, fake, turns(n))
        if n >= first + warmup:
            samples.append(sample)
    return samples


# --- reporting ----------------------------------------------------------------------------------------


def pct(values: Sequence[float], q: int) -> float:
    """The q-th percentile (linear interpolation between ranks)."""
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def row(label: str, values: Sequence[float]) -> str:
    """One table line: p50, p99 and max in milliseconds."""
    return f"  {label:<44}{pct(values, 50):>9.2f}{pct(values, 99):>9.2f}{max(values):>9.2f}"


def report(title: str, samples: list[Sample]) -> None:
    """Print the timings of one run."""
    folds = sum(s.folded for s in samples)
    print(f"\n{title}: {len(samples)} turns ({folds} folded older turns into the summary)")
    messages = statistics.median(s.messages for s in samples)
    kb = statistics.median(s.body_kb for s in samples)
    print(f"  conversation sent per turn: median {messages:.0f} messages, {kb:.0f} KB of JSON")
    print(f"  {'ms':<44}{'p50':>9}{'p99':>9}{'max':>9}")
    print(row("(a) event -> request sent to the model", [s.a for s in samples]))
    print(row("(b) last chunk received -> reply() done", [s.b for s in samples]))
    print(row("(a)+(b) bot's own time per turn", [s.total for s in samples]))
    print(row("    (a) up to LLM.stream_chat entered", [s.a_entry for s in samples]))
    print(row("    request sent -> fake server has it", [s.transit for s in samples]))
    plain = [s.total for s in samples if not s.folded]
    folded = [s.total for s in samples if s.folded]
    if plain and folded:
        print(row("    (a)+(b), turns without a fold", plain))
        print(row("    (a)+(b), turns with a fold", folded))


def verdict(samples: list[Sample]) -> bool:
    """Print PASS or MISS against the goal; True when it passes."""
    totals = [s.total for s in samples]
    p50, p99 = pct(totals, 50), pct(totals, 99)
    ok = p50 <= GOAL_P50_MS and p99 <= GOAL_P99_MS
    print(
        f"\ngoal (a)+(b): p50 <= {GOAL_P50_MS:g} ms, p99 <= {GOAL_P99_MS:g} ms -> "
        f"{'PASS' if ok else 'MISS'} (p50 {p50:.2f} ms, p99 {p99:.2f} ms)"
    )
    return ok


def ratios(product: list[Sample], baseline: list[Sample]) -> None:
    """Print baseline / product for p50 and p99 of each measure."""
    print("\nratio naive baseline / product")
    for label, get in (
        ("(a)", lambda s: s.a),
        ("(b)", lambda s: s.b),
        ("(a)+(b)", lambda s: s.total),
    ):
        p, n = [get(s) for s in product], [get(s) for s in baseline]
        print(f"  {label:<8} p50 {pct(n, 50) / pct(p, 50):>7.1f}x   p99 {pct(n, 99) / pct(p, 99):>7.1f}x")


PROFILE_TURNS = 40
_WATCH = (
    ("openai request params transform", "_transform.py", "async_maybe_transform"),
    ("openai client: build + send request", "_base_client.py", "post"),
    ("memory.build_conversation", "memory.py", "build_conversation"),
    ("Store.open_turn (its SQL runs in the DB thread)", "turns.py", "open_turn"),
    ("ChatService._fold_overflow", "chat.py", "_fold_overflow"),
    ("waiting in the event loop (DB thread, I/O)", "~", "<method 'poll' of 'select.epoll' objects>"),
)


async def profile(bench: Bench, fake: FakeOpenAI, turns: Callable[[int], TurnIn], first: int) -> None:
    """Profile the bot's own time (a)+(b) over product turns; the model's time is left out."""
    profiler = cProfile.Profile()
    bench.probe.profiler = profiler
    for n in range(first, first + PROFILE_TURNS):
        await run_turn(bench, fake, turns(n))
    bench.probe.profiler = None
    stats = pstats.Stats(profiler)
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(tt for _, _, tt, _, _ in raw.values())
    print(
        f"\nprofile: {PROFILE_TURNS} product turns, main thread, only inside (a) and (b) "
        f"({total / PROFILE_TURNS * 1000:.1f} ms per turn under the profiler)"
    )
    for label, file, name in _WATCH:
        cum = sum(ct for (f, _, fn), (_, _, _, ct, _) in raw.items() if fn == name and f.endswith(file))
        print(f"  {label:<46}{cum / PROFILE_TURNS * 1000:>8.2f} ms/turn {cum / total:>6.0%}")
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).strip_dirs().sort_stats("tottime").print_stats(12)
    lines = out.getvalue().splitlines()
    head = next(i for i, line in enumerate(lines) if "ncalls" in line)
    print("  top functions by own time:")
    print("\n".join("  " + line for line in lines[head:] if line.strip()))


# --- main ---------------------------------------------------------------------------------------------


def make_settings(data_dir: Path, base_url: str) -> Settings:
    """Settings on the fake server and a temporary DATA_DIR, no .env file (as tests/conftest.py)."""
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        discord_token=DISCORD_TOKEN,
        openai_api_key=API_KEY,
        openai_base_url=base_url,
        data_dir=data_dir,
    )


def scripted_replies(pool: TextPool, rng: random.Random) -> Callable[[dict[str, Any]], str]:
    """The fake model's answers: realistic answers to chat turns, a ~200-word summary to folds."""
    answers = itertools.cycle([text for text, _ in pool.assistant])
    summary = make_text(rng, 200, 0.0)

    def reply(body: dict[str, Any]) -> str:
        return next(answers) if body.get("stream") else summary

    return reply


async def main(args: argparse.Namespace) -> int:
    """Seed, run the product and the naive baseline, report."""
    ensure_tiktoken_offline()
    rng = random.Random(20240601)
    began = time.perf_counter()
    pool = TextPool.make(rng)
    fake = FakeOpenAI(api_key=API_KEY).start()
    fake.reply_with(scripted_replies(pool, rng))
    turns = make_turns(pool, rng)
    try:
        with tempfile.TemporaryDirectory(prefix="teambot-bench-") as tmp:
            settings = make_settings(Path(tmp) / "data", fake.base_url)
            settings.data_dir.mkdir(parents=True)
            product = await Bench.open(settings)
            total = await seed(product.store, pool, rng, product.chat.history_budget // 2)
            state = await product.store.channel_state(MEASURED_CHANNEL)
            naive = await naive_recent_turns(product.store, MEASURED_CHANNEL, 5000, after=state.summary_upto)
            fast = await product.store.recent_turns(MEASURED_CHANNEL, 5000, after=state.summary_upto)
            assert [t.id for t in naive] == [t.id for t in fast], "baseline and product disagree"
            size_mb = settings.database_path.stat().st_size / 1e6
            print(
                f"database: {total:,} turns in {CHANNELS:,} channels ({MEASURED_TURNS:,} in the measured "
                f"one), {size_mb:.0f} MB; seeded in {time.perf_counter() - began:.1f} s"
            )
            print(
                f"settings: chat_model={settings.chat_model} context_tokens={settings.context_tokens} "
                f"reply_tokens={settings.reply_tokens} (history budget {product.chat.history_budget} tokens)"
            )
            print(f"turns: {WARMUP} warm-up, then measured; fake OpenAI server in a thread of this process")
            print(f"machine: {os.cpu_count()} CPUs, load average {_load()} (other work here makes p99 noisy)")

            samples = await measure(product, fake, turns, args.turns, WARMUP, 0)
            report("product (Store.recent_turns)", samples)
            passed = verdict(samples)
            if args.profile or not passed:
                await profile(product, fake, turns, WARMUP + args.turns)
            await product.close()

            baseline = await Bench.open(settings, NaiveStore)
            naive_samples = await measure(baseline, fake, turns, args.baseline_turns, BASELINE_WARMUP, 10_000)
            await baseline.close()
            report("naive baseline (Store.all_turns + trim in Python)", naive_samples)
            ratios(samples, naive_samples)
    finally:
        fake.stop()
    print(
        "\nnote: (b) ends when reply() returns (answer and usage stored); the final Discord edit is done by "
        "the cog and is not part of the core."
    )
    print(f"total run time {time.perf_counter() - began:.0f} s; load average now {_load()}")
    return 0 if passed else 1


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=200, help="measured product turns (default 200)")
    parser.add_argument("--baseline-turns", type=int, default=30, help="measured baseline turns (default 30)")
    parser.add_argument("--profile", action="store_true", help="profile even when the goal is met")
    return parser.parse_args()


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
