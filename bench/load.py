"""Load: many channels chatting with the bot at once against a fake model with a fixed latency.

Run by hand from the checkout (not a test):

    .venv/bin/python bench/load.py [--channels 50] [--seconds 60] [--latency 0.2]
                                        [--through discord|core] [--lockstep] [--pace P]
                                        [--context-tokens N]

Each channel sends its next message as soon as the previous reply is complete (or, with `--pace P`, no
sooner than P seconds after its previous message), for `--seconds`. The channels' first messages are
spread over one model latency (or the pace), as a busy server's are. `--lockstep` sends them all in the
same instant instead: with a fake model whose latency never varies, those 50 replies then
keep arriving in the same millisecond for the whole run (a convoy no real server forms, since real
latencies vary), so every turn waits behind 49 others and the added latency measures the convoy's
queue more than the bot; keep it for the burst case. With
`--through discord` (default) a message is a real mention delivered to the real TeamBot on the Discord
doubles (tests/fakes/discord.py), and a turn ends when the reply's final text reaches the fake Discord;
with `--through core` turns go straight to ChatService.reply. The fake model runs in its own process
(tests/fakes/openai_server/) so its work does not compete with the bot for the GIL.

Discord itself lets a bot make at most 50 REST requests per second, and post at most 5 messages per 5 s in
a channel. A turn posts at least one message, so the default load (50 channels at 5 turns per second
each) is five times what Discord would ever let through; `--pace 1` is Discord's ceiling: each channel at
its limit of one post per second, 50 channels at the bot's global limit.

Printed, with the goals:
  throughput       completed turns / the ideal (channels × seconds / latency)        goal ≥ 0.9
  order            every channel's turns stored in order, each reply after its message  goal: kept
  added latency    turn time minus the model's time (request sent → last chunk in), p50/p99  p99 ≤ 50 ms
  event-loop lag   a probe sleeping 10 ms notes how late it wakes, p99/max          max ≤ 100 ms
  RSS              at start (idle, after start-up) and end                          idle ≤ 250 MB
  start-up         script start → bot ready on the (fake) gateway                   ≤ 3 s
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()  # before the heavy imports: they are part of the start-up time

import argparse  # noqa: E402
import asyncio  # noqa: E402
import contextvars  # noqa: E402
import re  # noqa: E402
import select  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import AsyncIterator, Sequence  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script: make `bot` and `tests.fakes` importable

import httpx2  # noqa: E402
import openai  # noqa: E402

from bot import heap  # noqa: E402
from bot.app import TeamBot  # noqa: E402
from bot.chat import TurnIn  # noqa: E402
from bot.config import Settings  # noqa: E402
from bot.http import ProviderTransport, provider_http_client  # noqa: E402
from bot.services import Services  # noqa: E402

API_KEY = "sk-bench-0123456789"
DISCORD_TOKEN = "MTAxMjM0NTY3ODkw.bench-token.abcdefghijklmnop"
GUILDS = 5
PROBE_INTERVAL = 0.01
GOAL_THROUGHPUT, GOAL_P99_MS, GOAL_LAG_MS, GOAL_IDLE_MB, GOAL_STARTUP_S = 0.9, 50.0, 100.0, 250.0, 3.0
_LIMITS = (
    "user_requests_per_minute", "server_requests_per_minute", "user_tokens_per_day", "user_tokens_per_month",
    "server_tokens_per_day", "server_tokens_per_month", "user_images_per_day", "server_images_per_day",
)
TURN_TIMEOUT = 60.0
# Discord's own limits on a bot: REST requests per second in all (global), messages posted per second in one
# channel (5 per 5 s). https://docs.discord.com/developers/topics/rate-limits
DISCORD_GLOBAL_LIMIT, DISCORD_CHANNEL_POSTS = 50, 1.0


class TurnTimeout(Exception):
    """A turn got no reply: the run stops and says where."""


CURRENT: contextvars.ContextVar[Turn | None] = contextvars.ContextVar("current_turn", default=None)


@dataclass
class Turn:
    """One message and its answer: when it was sent, answered, and the model's part of it."""

    channel: int
    n: int
    sent: float
    done: float = 0.0
    model: float = 0.0

    @property
    def added_ms(self) -> float:
        """The bot's part of the turn, in milliseconds."""
        return (self.done - self.sent - self.model) * 1000


# --- the fake model, in its own process -------------------------------------------------------------


def serve_model(latency: float, seconds: float) -> None:
    """Child process: serve the fake model, print its URL, stop when stdin closes or time is up."""
    from tests.fakes.openai_server import FakeOpenAI

    with FakeOpenAI(api_key=API_KEY, latency=latency, keep_requests=100) as fake:  # bounded memory
        print(fake.base_url, flush=True)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            ready, _, _ = select.select([sys.stdin], [], [], 1.0)
            if ready and not sys.stdin.readline():  # the parent closed our stdin: it is done
                return


def start_model(latency: float, seconds: float) -> tuple[subprocess.Popen[str], str]:
    """Start the fake model process; returns it and its base URL."""
    proc = subprocess.Popen(
        [sys.executable, __file__, "--serve-model", str(latency), "--seconds", str(seconds + 120)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT,
    )
    assert proc.stdout is not None
    return proc, proc.stdout.readline().strip()


# --- timing the model's part ------------------------------------------------------------------------


class TimedStream(httpx2.AsyncByteStream):
    """A response body that adds the time until its last chunk to the current turn's model time."""

    def __init__(self, inner: httpx2.AsyncByteStream, sent: float, turn: Turn | None) -> None:
        self._inner, self._sent, self._turn = inner, sent, turn

    async def __aiter__(self) -> AsyncIterator[bytes]:
        """The body's chunks."""
        async for chunk in self._inner:
            yield chunk
        if self._turn is not None:
            self._turn.model += time.perf_counter() - self._sent

    async def aclose(self) -> None:
        """Close the wrapped body."""
        await self._inner.aclose()


class TimedTransport(httpx2.AsyncBaseTransport):
    """The provider client's transport, timing each request for the turn it serves."""

    def __init__(self) -> None:
        self._inner = ProviderTransport()  # the product's transport

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        """Send the request and wrap its body."""
        sent = time.perf_counter()
        response = await self._inner.handle_async_request(request)
        response.stream = TimedStream(response.stream, sent, CURRENT.get())  # type: ignore[arg-type]
        return response

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._inner.aclose()


# --- the bot ------------------------------------------------------------------------------------------


def bench_settings(data_dir: Path, base_url: str, context_tokens: int | None = None) -> Settings:
    """Settings on the fake model, the team limits off (one user per channel sends hundreds of turns)."""
    limits = {name: 0 for name in _LIMITS if name in Settings.model_fields}
    memory = {} if context_tokens is None else {"context_tokens": context_tokens}
    return Settings(  # type: ignore[call-arg]
        _env_file=None, discord_token=DISCORD_TOKEN, openai_api_key=API_KEY, openai_base_url=base_url,
        data_dir=data_dir, request_timeout=30.0, **limits, **memory,
    )


async def timed_services(settings: Settings, *, open_documents: bool = True) -> Services:
    """The real services, their provider client on the timing transport."""
    services = await Services.create(settings, open_documents=open_documents)
    await services.llm.client.close()
    services.llm.client = openai.AsyncOpenAI(
        api_key=API_KEY, base_url=settings.openai_base_url, max_retries=0, timeout=settings.request_timeout,
        http_client=provider_http_client(TimedTransport()),
    )
    return services


class Discord:
    """The Discord doubles with one member per channel; a turn ends when its reply text arrives."""

    def __init__(self, fd: Any, channels: int) -> None:
        self.fd = fd
        guilds = [fd.guild(f"Server{g}") for g in range(GUILDS)]
        self.channels = [fd.text_channel(guilds[c % GUILDS], f"c{c}") for c in range(channels)]
        self.members = [fd.member(guilds[c % GUILDS], f"u{c}", display_name=f"U{c}") for c in range(channels)]
        self.waiting: dict[int, tuple[str, asyncio.Future[None]]] = {}  # channel → (reply awaited, done)
        forward = fd.gateway

        def gateway(event: str, payload: dict[str, Any]) -> None:  # every message the bot posts or edits
            channel_id = int(payload["channel_id"])
            awaited = self.waiting.get(channel_id)
            if awaited is not None and finished(payload.get("content") or "", awaited[0]):
                del self.waiting[channel_id]
                if not awaited[1].done():
                    awaited[1].set_result(None)
            forward(event, payload)

        fd.gateway = gateway

    def prune(self, keep: int = 100) -> None:
        """Forget what the fake keeps for tests' asserts (every call, every message): Discord keeps that,
        not the bot, and in the bot's process its growth made the garbage collector stall the loop."""
        server = self.fd.server
        server.calls.clear()
        del server.sent[:-keep]
        for key in list(server.sent_by_id)[:-keep]:
            del server.sent_by_id[key]
        for history in server.messages.values():
            for key in list(history)[:-4]:  # a channel's latest: the message being answered and its reply
                del history[key]

    async def turn(self, c: int, n: int) -> None:
        """A mention in channel c; returns once the bot's reply shows its final text."""
        if n % 20 == 0 and c == 0:
            self.prune()
        done = asyncio.get_running_loop().create_future()
        self.waiting[self.channels[c].id] = (f"echo: [U{c}] {text(c, n)}", done)
        channel, member = self.channels[c], self.members[c]
        await self.fd.send_message(channel, member, text(c, n), mentions_bot=True, settle=False)
        await done

    def shown(self, c: int) -> str:
        """What the bot's last message in channel c shows (to explain a turn that got no reply)."""
        last = [m.content for m in self.fd.server.sent if m.channel_id == self.channels[c].id][-1:]
        return f"; the bot shows {last[0]!r}" if last else "; the bot posted nothing"


def finished(shown: str, reply: str) -> bool:
    """Whether a message the bot posted or edited shows the whole `reply`: alone, or followed by the bot's
    notes (the first time a channel's history is folded into a summary, a note says so), not by the
    cursor of a reply still streaming."""
    return shown == reply or shown.startswith(reply + "\n")


def text(c: int, n: int) -> str:
    """The user's n-th message in channel c."""
    return f"turn {n} in channel {c}: how is the release going?"


# --- measuring --------------------------------------------------------------------------------------


@dataclass
class Probe:
    """Event-loop lag: how late a task sleeping PROBE_INTERVAL wakes up."""

    lags: list[float] = field(default_factory=list)

    async def run(self, until: float) -> None:
        """Sample until the deadline."""
        loop = asyncio.get_running_loop()
        while loop.time() < until:
            before = loop.time()
            await asyncio.sleep(PROBE_INTERVAL)
            self.lags.append((loop.time() - before - PROBE_INTERVAL) * 1000)


async def channel_loop(
    c: int, delay: float, until: float, run_turn: Any, turns: list[Turn], explain: Any = None,
    pace: float = 0.0,
) -> None:
    """One channel's conversation, from `delay` on: the next message once the last reply is complete, and
    no sooner than `pace` seconds after the last message.

    The channel runs for the same time as every other (until its own `until + delay`), so a later start
    costs it no turns.
    """
    await asyncio.sleep(delay)
    until += delay
    for n in range(1_000_000):
        if time.perf_counter() >= until:
            return
        turn = Turn(c, n, time.perf_counter())
        CURRENT.set(turn)
        try:
            await asyncio.wait_for(run_turn(c, n), timeout=TURN_TIMEOUT)
        except TimeoutError:
            why = explain(c) if explain is not None else ""
            raise TurnTimeout(f"channel {c} turn {n}: no reply in {TURN_TIMEOUT:g} s{why}") from None
        turn.done = time.perf_counter()
        turns.append(turn)
        if turn.sent + pace > turn.done:
            await asyncio.sleep(turn.sent + pace - turn.done)


def rss_mb() -> tuple[float, float]:
    """This process's resident memory now and at its peak, in MB."""
    status = Path("/proc/self/status").read_text()
    now, peak = (int(re.search(rf"{key}:\s+(\d+)", status).group(1)) for key in ("VmRSS", "VmHWM"))  # type: ignore[union-attr]
    return now / 1024, peak / 1024


async def check_order(services: Services, channel_ids: Sequence[int], turns: list[Turn]) -> bool:
    """Each channel's stored turns are its own messages in order, each followed by its reply."""
    for c, channel_id in enumerate(channel_ids):
        stored = await services.store.all_turns(channel_id)
        expected = [n for n in range(sum(1 for t in turns if t.channel == c))]
        users = [t for t in stored if t.role == "user"]
        if [t.content for t in users[: len(expected)]] != [f"[U{c}] {text(c, n)}" for n in expected]:
            return False
        for i, t in enumerate(stored):
            if t.role == "assistant" and (i == 0 or t.content != f"echo: {stored[i - 1].content}"):
                return False
    return True


def pct(values: Sequence[float], q: int) -> float:
    """The q-th percentile."""
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def main(args: argparse.Namespace) -> int:
    """Start the model and the bot, run the load, print the figures; 0 when every goal is met."""
    waited = time.perf_counter()
    model, base_url = start_model(args.latency, args.seconds)
    waited = time.perf_counter() - waited  # the fake model's own start-up is not the bot's
    try:
        with tempfile.TemporaryDirectory() as tmp:
            # As `python -m bot`: in Discord mode the document index opens while the bot connects.
            services = await timed_services(
                bench_settings(Path(tmp) / "data", base_url, args.context_tokens),
                open_documents=args.through != "discord",
            )
            if args.through == "discord":
                from tests.fakes.discord import FakeDiscord

                fd = await FakeDiscord(TeamBot(services, sync_commands=False), token=DISCORD_TOKEN).start()
                world = Discord(fd, args.channels)
                channel_ids = [ch.id for ch in world.channels]
                run_turn, explain = world.turn, world.shown
            else:
                await services.start()
                channel_ids = [10_000 + c for c in range(args.channels)]
                explain = None

                async def run_turn(c: int, n: int) -> None:
                    turn = TurnIn(channel_ids[c], 1 + c % GUILDS, 100 + c, f"U{c}", text(c, n))
                    await services.chat.reply(turn)

            try:
                startup = time.perf_counter() - STARTED - waited
                await services.documents.start()  # idle means the index open too
                heap.settle()  # as `python -m bot` does once it is up (and again once the index is open)
                rss_start, _ = rss_mb()
                turns: list[Turn] = []
                probe = Probe()
                until = time.perf_counter() + args.seconds
                cpu_start = time.process_time()
                fake_cpu_start = fd.session.cpu_seconds if args.through == "discord" else 0.0
                spread = 0.0 if args.lockstep else interval(args)  # channel c starts at c/channels of it
                loop_until = asyncio.get_running_loop().time() + args.seconds + spread
                loops = [
                    channel_loop(c, spread * c / args.channels, until, run_turn, turns, explain, args.pace)
                    for c in range(args.channels)
                ]
                await asyncio.gather(probe.run(loop_until), *loops)
                rss_end, rss_peak = rss_mb()
                cpu = time.process_time() - cpu_start
                if args.through == "discord":  # the fake Discord's work, in this process, isn't the bot's
                    fake_cpu = fd.session.cpu_seconds
                    cpu -= fake_cpu - fake_cpu_start
                ordered = await check_order(services, channel_ids, turns)
            finally:  # a failed run must still close the bot, or its database thread keeps the process alive
                if args.through == "discord":
                    await fd.close()
                else:
                    await services.aclose()
    finally:
        model.communicate(timeout=10)  # closing its stdin stops it
    return report(args, turns, probe, ordered, startup, (rss_start, rss_end, rss_peak), cpu)


def interval(args: argparse.Namespace) -> float:
    """A channel's time per turn at best: the model's latency, or the pace if that is longer."""
    return max(args.latency, args.pace)


def report(args: argparse.Namespace, turns: list[Turn], probe: Probe, ordered: bool, startup: float,
           rss: tuple[float, float, float], cpu: float) -> int:
    """Print the figures against the goals; 0 when all are met."""
    ideal = args.channels * args.seconds / interval(args)
    ratio = len(turns) / ideal
    added = [t.added_ms for t in turns]
    lag_p99, lag_max = pct(probe.lags, 99), max(probe.lags)
    checks = [
        (f"throughput {len(turns)} turns / ideal {ideal:.0f} = {ratio:.3f}", ratio >= GOAL_THROUGHPUT,
         f">= {GOAL_THROUGHPUT}"),
        (f"order per channel {'kept' if ordered else 'BROKEN'}", ordered, "kept"),
        (f"added latency p50 {pct(added, 50):.1f} ms, p99 {pct(added, 99):.1f} ms, max {max(added):.1f} ms",
         pct(added, 99) <= GOAL_P99_MS, f"p99 <= {GOAL_P99_MS:g} ms"),
        (f"event-loop lag p99 {lag_p99:.1f} ms, max {lag_max:.1f} ms ({len(probe.lags)} samples)",
         lag_max <= GOAL_LAG_MS, f"max <= {GOAL_LAG_MS:g} ms"),
        (f"RSS start {rss[0]:.0f} MB, end {rss[1]:.0f} MB, peak {rss[2]:.0f} MB", rss[0] <= GOAL_IDLE_MB,
         f"idle <= {GOAL_IDLE_MB:g} MB"),
        (f"start-up to ready {startup:.2f} s", startup <= GOAL_STARTUP_S, f"<= {GOAL_STARTUP_S:g} s"),
    ]
    model = statistics.median(t.model for t in turns) * 1000
    print(f"\n{args.channels} channels, {args.seconds:g} s, model latency {args.latency * 1000:.0f} ms "
          f"(median model time per turn {model:.0f} ms), through {args.through}"
          f"{', lock-step start' if args.lockstep else ''}{f', pace {args.pace:g} s' if args.pace else ''}")
    if args.through == "discord":
        rate, per_channel = args.channels / interval(args), 1 / interval(args)
        print(f"  load {rate:.0f} turns/s: {rate / DISCORD_GLOBAL_LIMIT:.1f}x the {DISCORD_GLOBAL_LIMIT} "
              f"requests/s Discord allows a bot, {per_channel / DISCORD_CHANNEL_POSTS:.1f}x the "
              f"{DISCORD_CHANNEL_POSTS:g} post/s it allows in a channel")
    print(f"  bot CPU {cpu:.1f} s = {cpu / max(len(turns), 1) * 1000:.2f} ms per turn "
          f"({cpu / args.seconds:.0%} of one core; the fake Discord's own work left out)")
    for text_, ok, goal in checks:
        print(f"  {'PASS' if ok else 'MISS'}  {text_:<72} goal {goal}")
    return 0 if all(ok for _, ok, _ in checks) else 1


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=50, help="channels chatting at once (default 50)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long to run (default 60)")
    parser.add_argument("--latency", type=float, default=0.2, help="the model's latency in s (default 0.2)")
    parser.add_argument("--through", choices=("discord", "core"), default="discord")
    parser.add_argument("--pace", type=float, default=0.0,
                        help="a channel's least time between messages in s (default 0; 1 is Discord's limit)")
    parser.add_argument("--context-tokens", type=int, default=None,
                        help="the model's context (default the bot's); a small one folds channels sooner")
    parser.add_argument("--lockstep", action="store_true",
                        help="start every channel in the same instant instead of spread over one latency")
    parser.add_argument("--serve-model", type=float, default=None, help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve_model is not None:
        serve_model(arguments.serve_model, arguments.seconds)
        sys.exit(0)
    sys.exit(asyncio.run(main(arguments)))
