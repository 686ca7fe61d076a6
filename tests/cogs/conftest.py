"""A real TeamBot with its real services, driven through the Discord doubles."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.app import TeamBot
from bot.services import Services
from tests.fakes.discord import FakeDiscord


@pytest.fixture
async def fd(services: Services) -> AsyncIterator[FakeDiscord]:
    bot = TeamBot(services, sync_commands=False)
    harness = await FakeDiscord(bot).start()
    yield harness
    await harness.close()
