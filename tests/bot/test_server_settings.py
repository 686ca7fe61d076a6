"""Server settings: every key's validation, defaults from the environment, changes at once, the log."""

from __future__ import annotations

import pytest

from bot.chat import ChatService, TurnIn
from bot.errors import UserError
from bot.llm import LLM
from bot.permissions import FEATURES
from bot.server_settings import (
    KEYS,
    GuildFacts,
    ServerModerationPolicy,
    ServerSettings,
    key_named,
    parse_value,
)
from bot.store import Store
from tests.conftest import make_settings
from tests.fakes.openai_server import DEFAULT_MODELS, FakeOpenAI

GUILD = 1000
FACTS = GuildFacts(channels={501: "uploads", 502: "general"}, roles={77: "Designers", 78: "Team Leads"})


def parsed(key: str, raw: str) -> str:
    return parse_value(KEYS[key], raw, FACTS)


def refusal(key: str, raw: str) -> str:
    with pytest.raises(UserError) as refused:
        parsed(key, raw)
    assert refused.value.kind == "bad_setting"
    return refused.value.message


def test_the_keys_cover_the_issue() -> None:
    expected = {
        "chat_model", "image_model", "docs_in_chat", "upload_channel", "moderation", "reply_language",
        "moderation_alert_channel",
        *(f"{f}_roles" for f in FEATURES),
        "user_requests_per_minute", "server_requests_per_minute", "user_tokens_per_day",
        "user_tokens_per_month", "server_tokens_per_day", "server_tokens_per_month", "user_images_per_day",
        "server_images_per_day",
    }
    assert set(KEYS) == expected


@pytest.mark.parametrize(
    ("key", "raw", "stored"),
    [
        ("chat_model", " gpt-4o ", "gpt-4o"),
        ("image_model", "dall-e-3", "dall-e-3"),
        ("chat_model", "qwen2.5:7b-instruct", "qwen2.5:7b-instruct"),
        ("docs_in_chat", "Yes", "on"),
        ("moderation", "off", "off"),
        ("upload_channel", "<#501>", "501"),
        ("upload_channel", "#uploads", "501"),
        ("upload_channel", "502", "502"),
        ("upload_channel", "none", ""),
        ("chat_roles", "everyone", ""),
        ("chat_roles", "<@&78> Designers", "77,78"),
        ("docs_roles", "@team leads", "78"),
        ("images_roles", "77", "77"),
        ("reply_language", "Japanese", "ja"),
        ("reply_language", "EN", "en"),
        ("user_tokens_per_day", "200k", "200000"),
        ("user_tokens_per_month", "1.5m", "1500000"),
        ("server_tokens_per_day", "1,000,000", "1000000"),
        ("user_requests_per_minute", "unlimited", "0"),
        ("user_images_per_day", "5", "5"),
    ],
)
def test_values_are_stored_in_one_form(key: str, raw: str, stored: str) -> None:
    assert parsed(key, raw) == stored


@pytest.mark.parametrize(
    ("key", "raw", "message"),
    [
        ("chat_model", "gpt 4o", "`chat_model` must be a model name such as gpt-4o-mini"),
        ("image_model", "-x", "`image_model` must be a model name"),
        ("docs_in_chat", "maybe", "`docs_in_chat` must be `on` or `off`."),
        ("moderation", "sometimes", "`moderation` must be `on` or `off`."),
        ("upload_channel", "#nowhere", "`upload_channel` must be a text channel of this server"),
        ("upload_channel", "999", "`upload_channel` must be a text channel of this server"),
        ("chat_roles", "Wizards", "there is no role `Wizards` here"),
        ("code_roles", "<@&999>", "`code_roles` must be `everyone` or roles of this server"),
        ("ask_roles", ", ,", "`ask_roles` must be `everyone` or roles of this server"),
        ("reply_language", "fr", "`reply_language` must be `auto`, `en` (English) or `ja` (Japanese)."),
        ("user_tokens_per_day", "lots", "`user_tokens_per_day` must be a whole number of at least 1"),
        ("user_images_per_day", "0", "limit who may use it with the `_roles` settings"),
        ("server_requests_per_minute", "2.5", "`server_requests_per_minute` must be a whole number"),
        ("server_tokens_per_month", "-5", "or `unlimited`"),
    ],
)
def test_each_setting_explains_a_bad_value(key: str, raw: str, message: str) -> None:
    assert message in refusal(key, raw)


def test_an_unknown_key_lists_the_settings() -> None:
    with pytest.raises(UserError) as refused:
        key_named("colour")
    assert "no setting called `colour`" in refused.value.message and "chat_model" in refused.value.message


async def test_defaults_come_from_the_environment(tmp_path, fake_ai: FakeOpenAI) -> None:
    settings = make_settings(
        tmp_path / "env", fake_ai.base_url, chat_model="llama3", user_tokens_per_day=123, moderation=True
    )
    store = await Store(settings.database_path).open()
    try:
        config = await ServerSettings(store, settings).config(GUILD)
        assert config.chat_model == "llama3" and config.limit("user_tokens_per_day") == 123
        assert config.moderation and config.overridden == frozenset() and config.roles("chat") == frozenset()
    finally:
        await store.close()


async def test_a_change_applies_at_once_and_is_logged(store: Store, settings) -> None:
    server = ServerSettings(store, settings)
    assert await server.chat_model(GUILD) == "gpt-4o-mini"  # cached from here on
    change = await server.set(GUILD, "chat_model", "gpt-4o", FACTS, user_id=5, user_name="Ann")
    assert (change.before, change.after, change.is_default) == ("`gpt-4o-mini`", "`gpt-4o`", False)
    assert await server.chat_model(GUILD) == "gpt-4o"
    assert await server.chat_model(GUILD + 1) == "gpt-4o-mini"  # other servers keep theirs
    (entry,) = await server.history(GUILD)
    assert (entry.user_id, entry.user_name, entry.key, entry.old_value, entry.new_value) == (
        5, "Ann", "chat_model", None, "gpt-4o"
    )
    assert entry.created_at > 0
    restarted = ServerSettings(store, settings)
    assert await restarted.chat_model(GUILD) == "gpt-4o"


async def test_default_resets_and_logs_it(store: Store, settings) -> None:
    server = ServerSettings(store, settings)
    await server.set(GUILD, "user_images_per_day", "3", FACTS, user_id=5, user_name="Ann")
    change = await server.set(GUILD, "user_images_per_day", "default", FACTS, user_id=6, user_name="Bob")
    assert change.is_default and change.after == "10" and change.before == "3"
    config = await server.config(GUILD)
    assert config.limit("user_images_per_day") == 10 and "user_images_per_day" not in config.overridden
    latest = (await server.history(GUILD))[0]
    assert (latest.user_name, latest.old_value, latest.new_value) == ("Bob", "3", None)


async def test_a_refused_value_changes_nothing(store: Store, settings) -> None:
    server = ServerSettings(store, settings)
    with pytest.raises(UserError):
        await server.set(GUILD, "moderation", "perhaps", FACTS, user_id=5, user_name="Ann")
    assert await server.history(GUILD) == [] and not (await server.config(GUILD)).moderation


async def test_chat_uses_the_servers_chat_model(
    store: Store, settings, llm: LLM, fake_ai: FakeOpenAI
) -> None:
    fake_ai.set_models({**DEFAULT_MODELS, "gpt-4o": "chat"})
    server = ServerSettings(store, settings)
    chat = ChatService(store, llm, settings, server=server)
    await chat.reply(TurnIn(1, GUILD, 5, "Ann", "hello"))
    assert fake_ai.last_request("/chat/completions").json["model"] == "gpt-4o-mini"
    await server.set(GUILD, "chat_model", "gpt-4o", FACTS, user_id=5, user_name="Ann")
    await chat.reply(TurnIn(1, GUILD, 5, "Ann", "hello again"))
    assert fake_ai.last_request("/chat/completions").json["model"] == "gpt-4o"


async def test_moderation_policy_reads_the_server_settings(store: Store, settings) -> None:
    server = ServerSettings(store, settings)
    policy = ServerModerationPolicy(server)
    assert not await policy.enabled(GUILD) and await policy.alert_channel(GUILD) is None
    await server.set(GUILD, "moderation", "on", FACTS, user_id=5, user_name="Ann")
    await server.set(GUILD, "moderation_alert_channel", "#general", FACTS, user_id=5, user_name="Ann")
    assert await policy.enabled(GUILD) and await policy.alert_channel(GUILD) == 502
    assert not await policy.enabled(GUILD + 1)
