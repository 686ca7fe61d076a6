"""TeamBot start-up: intents, cogs, command sync only when the tree changed."""

from __future__ import annotations

from bot.app import TREE_HASH_KEY, TeamBot, intents
from bot.config import Settings
from bot.services import Services
from tests.fakes.discord import FakeDiscord


def command_syncs(fd: FakeDiscord) -> list:
    return [c for c in fd.calls if c.method == "PUT" and c.path.endswith("/commands")]


def test_intents_are_the_least_that_works() -> None:
    wanted = intents()
    assert wanted.guilds and wanted.guild_messages and wanted.dm_messages and wanted.message_content
    assert not wanted.members and not wanted.presences and not wanted.guild_reactions


async def test_commands_sync_on_first_start_and_only_when_changed(settings: Settings) -> None:
    fd = await FakeDiscord(TeamBot(await Services.create(settings))).start()
    assert len(command_syncs(fd)) == 1
    names = {c["name"] for c in command_syncs(fd)[0].json}
    assert {"chat", "reset", "persona"} <= names
    await fd.restart(TeamBot(await Services.create(settings)))  # a restart on the same DATA_DIR
    assert len(command_syncs(fd)) == 1  # unchanged tree: no second sync
    services = await Services.create(settings)
    await fd.restart(TeamBot(services, force_sync=True))
    assert len(command_syncs(fd)) == 2
    assert await services.store.get_meta(TREE_HASH_KEY)
    await fd.close()


async def test_dev_guild_sync_is_to_that_guild(settings: Settings) -> None:
    dev = settings.model_copy(update={"dev_guild_id": 123456789012345678})
    fd = await FakeDiscord(TeamBot(await Services.create(dev))).start()
    (sync,) = command_syncs(fd)
    assert "/guilds/123456789012345678/commands" in sync.path
    await fd.close()
