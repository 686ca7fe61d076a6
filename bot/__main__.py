"""`teambot` / `python -m bot`: run the bot, check the set-up, sync commands."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
import tempfile
from collections.abc import Sequence
from typing import TYPE_CHECKING

from bot import heap
from bot.config import ConfigError, Settings, load_settings
from bot.documents import IndexUnavailable

if TYPE_CHECKING:
    import discord

    from bot.services import Services

log = logging.getLogger("teambot")


def parser() -> argparse.ArgumentParser:
    """The command line."""
    p = argparse.ArgumentParser(prog="teambot", description="A Discord bot for your team's AI.")
    sub = p.add_subparsers(dest="command")
    sub.add_parser("run", help="connect to Discord and answer (the default)")
    doctor = sub.add_parser("doctor", help="check settings, DATA_DIR and the AI provider")
    doctor.add_argument("--discord", action="store_true", help="also log in to Discord to check the token")
    sub.add_parser("sync", help="push the slash commands to Discord now")
    ingest = sub.add_parser("ingest", help="index files or folders from disk for a server")
    ingest.add_argument("paths", nargs="+", help="files or folders")
    ingest.add_argument("--guild", type=int, required=True, help="server id")
    ingest.add_argument("--channel", type=int, help="channel id: only that channel may use them")
    ingest.add_argument("--uploader", default="teambot ingest", help="name shown as who added them")
    ask = sub.add_parser("ask", help="answer a question from a server's documents")
    ask.add_argument("question")
    ask.add_argument("--guild", type=int, required=True, help="server id")
    ask.add_argument("--channel", type=int, help="channel id (also sees that channel's documents)")
    purge = sub.add_parser("purge", help="delete everything stored about a user (as /forget-me does)")
    purge.add_argument("--user", type=int, required=True, help="Discord user id")
    purge.add_argument("--keep-documents", action="store_true", help="keep the documents they uploaded")
    purge.add_argument("--dry-run", action="store_true", help="only show what is stored")
    return p


def configure_logging(level: str, secrets: Sequence[str] = ()) -> None:
    """discord.py's log format at `level`, with secrets masked on every handler."""
    import discord

    from bot.logs import mask_secrets

    discord.utils.setup_logging(level=logging.getLevelName(level), root=True)
    mask_secrets(secrets)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit status."""
    args = parser().parse_args(argv)
    command = args.command or "run"
    try:
        settings = load_settings(
            require_discord=command in {"run", "sync"} or getattr(args, "discord", False)
        )
    except ConfigError as exc:
        print(f"teambot: {exc}", file=sys.stderr)
        return 2
    secrets = [s.get_secret_value() for s in (settings.discord_token, settings.openai_api_key) if s]
    configure_logging(settings.log_level, secrets)
    try:
        if command == "doctor":
            return asyncio.run(doctor(settings, discord_login=args.discord))
        if command in {"ingest", "ask"}:
            from bot.cli import ask, ingest

            if command == "ingest":
                return asyncio.run(ingest(settings, args.paths, args.guild, args.channel, args.uploader))
            return asyncio.run(ask(settings, args.question, args.guild, args.channel))
        if command == "purge":
            from bot.forget import purge

            return asyncio.run(
                purge(settings, args.user, keep_documents=args.keep_documents, dry_run=args.dry_run)
            )
        return asyncio.run(run(settings, sync_only=command == "sync"))
    except KeyboardInterrupt:
        return 0
    except IndexUnavailable as exc:  # ingest, ask, purge need the index (the bot itself runs on without it)
        print(f"teambot: {exc}; `teambot doctor` checks the set-up", file=sys.stderr)
        return 2


async def run(settings: Settings, *, sync_only: bool = False) -> int:
    """Start the services and the bot; with sync_only, log in, sync commands and stop."""
    import discord

    from bot.app import TeamBot
    from bot.services import Services

    use_discord_api(settings)
    # The document index opens while the bot connects (bot/documents.py): LlamaIndex takes ~1 s to load.
    services = await Services.create(settings, open_documents=False)
    bot = TeamBot(services, force_sync=sync_only)
    assert settings.discord_token is not None
    token = settings.discord_token.get_secret_value()
    # `docker stop` and service managers send SIGTERM: stop as Ctrl-C does, by cancelling this task, so
    # `async with bot` closes Discord and then the database before the process exits.
    main_task = asyncio.current_task()
    with contextlib.suppress(NotImplementedError):  # not available on Windows
        if main_task is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    try:
        async with bot:
            await bot.login(token)  # also runs setup_hook: cogs and the command sync
            if sync_only:
                return 0
            heap.settle()  # start-up's objects out of the cyclic GC: no 100-150 ms pauses (bot/heap.py)
            settling = asyncio.create_task(settle_when_open(services))
            try:
                if settings.discord_api_base:
                    await use_server_gateway(bot)
                await bot.connect()
            finally:
                settling.cancel()
    except discord.LoginFailure:
        log.error("Discord rejected DISCORD_TOKEN: check the bot token in the Developer Portal")
        return 2
    except discord.PrivilegedIntentsRequired:
        log.error("Enable the Message Content intent for this bot in the Developer Portal (Bot page)")
        return 2
    except asyncio.CancelledError:
        log.info("stopped")
        return 0
    return 0


async def settle_when_open(services: Services) -> None:
    """Once the document index is open (or failed to), settle the heap again: LlamaIndex's objects too."""
    with contextlib.suppress(Exception):  # a failure is logged where it happens
        await services.documents.opened()
    heap.settle()


def use_discord_api(settings: Settings) -> None:
    """Send discord.py's REST calls to DISCORD_API_BASE when it is set (default: discord.com)."""
    if not settings.discord_api_base:
        return
    import discord.http

    # discord.py has no option for this; every REST URL it builds, interaction webhooks included,
    # starts with this one class attribute.
    discord.http.Route.BASE = settings.discord_api_base


async def use_server_gateway(bot: discord.Client) -> None:
    """Connect to the gateway the server names in GET /gateway/bot instead of Discord's."""
    import discord.http
    import yarl
    from discord.gateway import DiscordWebSocket

    # A single-shard Client never asks for the gateway: it dials DEFAULT_GATEWAY (wss://gateway.discord.gg),
    # later READY's resume_gateway_url, and DEFAULT_GATEWAY again after an invalidated session.
    _, url, _ = await bot.http.get_bot_gateway()
    DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(url)
    log.info("DISCORD_API_BASE %s: gateway %s", discord.http.Route.BASE, url)


async def doctor(settings: Settings, *, discord_login: bool = False) -> int:
    """Check everything that can be checked without users; print plain findings."""
    from bot.errors import UserError
    from bot.llm import LLM

    problems = 0

    def report(ok: bool, text: str) -> None:
        nonlocal problems
        problems += not ok
        print(f"{'ok ' if ok else 'BAD'}  {text}")

    report(
        True,
        f"settings read (chat model {settings.chat_model}, provider {settings.openai_base_url or 'OpenAI'})",
    )
    try:
        with tempfile.NamedTemporaryFile(dir=settings.data_dir):
            pass
        report(True, f"DATA_DIR {settings.data_dir} is writable")
    except OSError as exc:
        report(False, f"DATA_DIR {settings.data_dir} is not writable: {exc.strerror}")
    report(*await _check_index(settings))
    llm = LLM(settings)
    try:
        models = set(await llm.model_ids())
        report(True, "the AI provider answers")
        for name, model in (
            ("CHAT_MODEL", settings.chat_model),
            ("EMBED_MODEL", settings.embed_model),
            ("IMAGE_MODEL", settings.image_model),
        ):
            report(
                model in models,
                f"{name} {model} "
                + ("is available" if model in models else "is not offered by the provider"),
            )
    except UserError as exc:
        report(False, f"the AI provider: {exc.message}")
    finally:
        await llm.aclose()
    if discord_login:
        problems += not await _check_discord(settings, report)
    print("All good." if not problems else f"{problems} problem(s) found.")
    return 0 if not problems else 1


async def _check_index(settings: Settings) -> tuple[bool, str]:
    """Whether the document index opens (the bot runs without it, with documents unavailable)."""
    from bot.documents import open_index
    from index.vectors import DB_NAME

    path = settings.index_dir / DB_NAME
    if not path.exists():
        return True, f"no document index yet: {path} is created on the first start"
    try:
        vectors = await asyncio.to_thread(open_index, settings.index_dir)
    except Exception as exc:  # the bot would run with documents unavailable
        return False, f"the document index {path} can't be opened ({exc}): documents would be unavailable"
    await asyncio.to_thread(vectors.close)
    return True, f"the document index {path} opens"


async def _check_discord(settings: Settings, report) -> bool:
    import discord

    use_discord_api(settings)
    client = discord.Client(intents=discord.Intents.none())
    assert settings.discord_token is not None
    try:
        async with client:
            await client.login(settings.discord_token.get_secret_value())
            report(True, f"Discord accepts the token (application id {client.application_id})")
            return True
    except discord.LoginFailure:
        report(False, "Discord rejected DISCORD_TOKEN")
    except (discord.HTTPException, OSError) as exc:
        report(False, f"Discord can't be reached: {type(exc).__name__}")
    return False


if __name__ == "__main__":
    sys.exit(main())
