"""Team controls through Discord: /settings, /usage, limits in chat, and the server allow-list."""

from __future__ import annotations

import io

import discord
import pytest
from PIL import Image

from bot.app import TeamBot
from bot.config import Settings
from bot.i18n import t
from bot.services import Services
from bot.usage import CHART_SIZE
from cogs.chat import EMPTY_MENTION
from cogs.team import LEAVE_MESSAGE
from tests.conftest import make_settings
from tests.fakes.discord import DiscordWouldRefuse, FakeDiscord, InteractionRecord
from tests.fakes.openai_server import DEFAULT_MODELS, FakeOpenAI, count_tokens

HANDBOOK = b"# Handbook\n\nEvery employee gets twenty-eight paid holiday days per year.\n"


@pytest.fixture
def world(fd: FakeDiscord) -> dict:
    guild = fd.guild("Team")
    return {
        "guild": guild,
        "general": fd.text_channel(guild, "general"),
        "uploads": fd.text_channel(guild, "uploads"),
        "ann": fd.member(guild, "ann", display_name="Ann", permissions=discord.Permissions.none()),
        "bob": fd.member(guild, "bob", display_name="Bob", permissions=discord.Permissions.none()),
        "admin": fd.member(
            guild, "admin", display_name="Admin", permissions=discord.Permissions(manage_guild=True)
        ),
    }


async def set_setting(
    fd: FakeDiscord, world: dict, key: str, value: str, user: str = "admin"
) -> InteractionRecord:
    return await fd.slash(
        "settings set", {"key": key, "value": value}, user=world[user], channel=world["general"]
    )


async def mention(fd: FakeDiscord, world: dict, text: str, user: str = "ann", **kwargs: object) -> None:
    await fd.send_message(
        world["general"], world[user], f"{fd.bot_mention} {text}", mentions_bot=True, **kwargs
    )


# --- /settings --------------------------------------------------------------------------------


async def test_settings_show_marks_defaults(fd: FakeDiscord, world: dict) -> None:
    rec = await fd.slash("settings show", {}, user=world["admin"], channel=world["general"])
    assert rec.ephemeral
    fields = {f.name: f.value for f in rec.last.embeds[0].fields}
    assert "**chat_model**: `gpt-4o-mini` · _default_" in fields["Models"]
    assert "**user_tokens_per_day**: 200,000 · _default_" in fields["Limits (per UTC day / calendar month)"]
    assert "**chat_roles**: everyone" in fields["Who may use what"]


async def test_a_change_applies_at_once_and_is_logged(
    fd: FakeDiscord, world: dict, services: Services
) -> None:
    rec = await set_setting(fd, world, "user_tokens_per_day", "50k")
    assert rec.ephemeral
    assert rec.last.content.startswith("✅ `user_tokens_per_day` is now 50,000 (it was 200,000)")
    config = await services.server_settings.config(world["guild"].id)
    assert config.limit("user_tokens_per_day") == 50_000
    shown = await fd.slash("settings show", {}, user=world["admin"], channel=world["general"])
    fields = {f.name: f.value for f in shown.last.embeds[0].fields}
    assert "**user_tokens_per_day**: 50,000\n" in fields["Limits (per UTC day / calendar month)"]
    assert "**Admin** set `user_tokens_per_day` to 50,000" in fields["Recent changes"]
    (entry,) = await services.store.settings_log(world["guild"].id)
    assert (entry.user_id, entry.key, entry.new_value) == (world["admin"].id, "user_tokens_per_day", "50000")


async def test_settings_are_hidden_from_members(fd: FakeDiscord, world: dict) -> None:
    with pytest.raises(DiscordWouldRefuse):
        await fd.slash("settings show", {}, user=world["ann"], channel=world["general"])


@pytest.mark.parametrize("command", ["settings show", "settings set"])
async def test_settings_refuse_without_manage_server_even_if_the_command_is_opened(
    fd: FakeDiscord, world: dict, services: Services, command: str
) -> None:
    # A server admin can open a command to everyone in Integrations; the bot must still check.
    fd.tree.get_command("settings").default_permissions = None
    options = {"key": "moderation", "value": "on"} if command.endswith("set") else {}
    rec = await fd.slash(command, options, user=world["ann"], channel=world["general"])
    assert rec.ephemeral and "needs the Manage Server permission" in rec.last.content
    assert not (await services.server_settings.config(world["guild"].id)).moderation


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("chat_model", "gpt 4o", "`chat_model` must be a model name"),
        ("image_model", "dall e", "`image_model` must be a model name"),
        ("docs_in_chat", "maybe", "`docs_in_chat` must be `on` or `off`"),
        ("moderation", "2", "`moderation` must be `on` or `off`"),
        ("upload_channel", "#nope", "`upload_channel` must be a text channel of this server"),
        ("moderation_alert_channel", "lobby", "`moderation_alert_channel` must be a text channel"),
        ("chat_roles", "Wizards", "there is no role `Wizards` here"),
        ("docs_roles", "Wizards", "there is no role `Wizards` here"),
        ("ask_roles", "Wizards", "there is no role `Wizards` here"),
        ("code_roles", "Wizards", "there is no role `Wizards` here"),
        ("images_roles", "Wizards", "there is no role `Wizards` here"),
        ("reply_language", "de", "`reply_language` must be `auto`, `en` (English) or `ja` (Japanese)"),
        ("user_requests_per_minute", "fast", "`user_requests_per_minute` must be a whole number"),
        ("server_requests_per_minute", "0", "`server_requests_per_minute` must be a whole number"),
        ("user_tokens_per_day", "-1", "`user_tokens_per_day` must be a whole number"),
        ("user_tokens_per_month", "1e9", "`user_tokens_per_month` must be a whole number"),
        ("server_tokens_per_day", "half", "`server_tokens_per_day` must be a whole number"),
        ("server_tokens_per_month", "0.5", "`server_tokens_per_month` must be a whole number"),
        ("user_images_per_day", "many", "`user_images_per_day` must be a whole number"),
        ("server_images_per_day", "1.5", "`server_images_per_day` must be a whole number"),
        ("colour", "blue", "There is no setting called `colour`"),
    ],
)
async def test_each_setting_refuses_a_bad_value(
    fd: FakeDiscord, world: dict, services: Services, key: str, value: str, message: str
) -> None:
    rec = await set_setting(fd, world, key, value)
    assert rec.ephemeral and message in rec.last.content
    assert await services.store.settings_log(world["guild"].id) == []


async def test_keys_and_values_autocomplete(fd: FakeDiscord, world: dict) -> None:
    fd.role(world["guild"], "Designers")
    keys = await fd.autocomplete(
        "settings set", "key", "image", user=world["admin"], channel=world["general"]
    )
    assert {c.value for c in keys} == {
        "image_model",
        "images_roles",
        "user_images_per_day",
        "server_images_per_day",
    }
    roles = await fd.autocomplete(
        "settings set",
        "value",
        "des",
        user=world["admin"],
        channel=world["general"],
        options={"key": "chat_roles"},
    )
    assert [(c.name, c.value) for c in roles] == [("@Designers", "Designers")]
    channels = await fd.autocomplete(
        "settings set",
        "value",
        "upl",
        user=world["admin"],
        channel=world["general"],
        options={"key": "upload_channel"},
    )
    assert [c.value for c in channels] == [str(world["uploads"].id)]


# --- settings take effect ---------------------------------------------------------------------


async def test_chat_model_setting_is_used_at_once(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    fake_ai.set_models({**DEFAULT_MODELS, "gpt-4o": "chat"})
    await set_setting(fd, world, "chat_model", "gpt-4o")
    await mention(fd, world, "hello")
    assert fake_ai.last_request("/chat/completions").json["model"] == "gpt-4o"
    assert fd.last_sent(world["general"]).content == "echo: [Ann] hello"


async def test_image_model_setting_is_used_at_once(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    await set_setting(fd, world, "image_model", "dall-e-3")
    rec = await fd.slash("imagine", {"prompt": "a red fox"}, user=world["ann"], channel=world["general"])
    assert fake_ai.last_request("/images/generations").json["model"] == "dall-e-3"
    assert "dall-e-3" in rec.original.content


async def test_upload_channel_setting_indexes_posted_files(fd: FakeDiscord, world: dict) -> None:
    await fd.send_message(world["uploads"], world["ann"], "report", attachments=[("a.md", HANDBOOK)])
    assert fd.sent(world["uploads"]) == []  # not watched yet
    await set_setting(fd, world, "upload_channel", "#uploads")
    await fd.send_message(world["uploads"], world["ann"], "report", attachments=[("a.md", HANDBOOK)])
    assert "✅ **a.md** indexed" in fd.last_sent(world["uploads"]).content


# --- role gates -------------------------------------------------------------------------------


@pytest.fixture
async def gated(fd: FakeDiscord, world: dict) -> dict:
    designers = fd.role(world["guild"], "Designers")
    world["designer"] = fd.member(world["guild"], "dee", display_name="Dee", roles=[designers])
    for feature in ("chat", "docs", "ask", "code", "images"):
        rec = await set_setting(fd, world, f"{feature}_roles", "@Designers")
        assert "is now @Designers" in rec.last.content
    return world


async def test_role_gate_on_mentions(fd: FakeDiscord, gated: dict, fake_ai: FakeOpenAI) -> None:
    await mention(fd, gated, "hello")
    assert "Chatting with the bot is limited to @Designers" in fd.last_sent(gated["general"]).content
    assert fake_ai.requests_to("/chat/completions") == []
    await mention(fd, gated, "hello", user="designer")
    assert fd.last_sent(gated["general"]).content == "echo: [Dee] hello"
    await mention(fd, gated, "hi", user="admin")  # managers are never locked out
    assert fd.last_sent(gated["general"]).content == "echo: [Admin] hi"


@pytest.mark.parametrize(
    ("command", "options", "refusal"),
    [
        ("chat", {"message": "hello"}, "Chatting with the bot is limited to @Designers"),
        ("docs add", {"file": ("a.md", HANDBOOK)}, "Adding documents is limited to @Designers"),
        ("ask", {"question": "holidays?"}, "Asking the documents is limited to @Designers"),
        ("code explain", {"code": "print(1)"}, "Code help is limited to @Designers"),
        ("code review", {}, "Code help is limited to @Designers"),  # before the paste-in box opens
        ("imagine", {"prompt": "a fox"}, "Making images is limited to @Designers"),
    ],
)
async def test_role_gate_on_slash_commands(
    fd: FakeDiscord, gated: dict, fake_ai: FakeOpenAI, command: str, options: dict, refusal: str
) -> None:
    rec = await fd.slash(command, options, user=gated["ann"], channel=gated["general"])
    assert rec.ephemeral and refusal in rec.last.content
    assert not rec.deferred and fd.modals == []
    assert [r for r in fake_ai.requests if "/models" not in r.path] == []


async def test_role_gate_on_context_menus(fd: FakeDiscord, gated: dict, fake_ai: FakeOpenAI) -> None:
    message = await fd.send_message(gated["general"], gated["designer"], "```python\nprint(1)\n```")
    rec = await fd.context_menu("Explain code", message, user=gated["ann"])
    assert rec.ephemeral and "Code help is limited to @Designers" in rec.last.content
    assert fake_ai.requests_to("/chat/completions") == []


async def test_role_gate_on_uploads(fd: FakeDiscord, gated: dict, services: Services) -> None:
    await mention(fd, gated, "", attachments=[("a.md", HANDBOOK)])
    assert "Adding documents is limited to @Designers" in fd.last_sent(gated["general"]).content
    assert await services.store.documents([f"server:{gated['guild'].id}"], status=None) == []


# --- limits -----------------------------------------------------------------------------------


async def test_budget_reached_in_chat_leaves_no_placeholder(
    fd: FakeDiscord, world: dict, services: Services, fake_ai: FakeOpenAI
) -> None:
    await set_setting(fd, world, "user_tokens_per_day", "1")
    await mention(fd, world, "first")
    asked = len(fake_ai.requests_to("/chat/completions"))
    await mention(fd, world, "second")
    reply = fd.last_sent(world["general"])
    assert reply.contents == [reply.content]  # sent once, never a "… thinking" placeholder edited
    assert (
        reply.content.startswith("You've used your daily token budget (1 tokens)")
        and "resets <t:" in reply.content
    )
    assert len(fake_ai.requests_to("/chat/completions")) == asked
    assert [t.content for t in await services.store.all_turns(world["general"].id)][-1] != "[Ann] second"


async def test_budget_reached_on_slash_chat_answers_privately(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    await set_setting(fd, world, "server_tokens_per_day", "1")
    await mention(fd, world, "first", user="bob")
    rec = await fd.slash("chat", {"message": "second"}, user=world["ann"], channel=world["general"])
    assert rec.ephemeral and not rec.deferred
    assert "This server has used its daily token budget" in rec.last.content


async def test_requests_per_minute_in_chat(fd: FakeDiscord, world: dict) -> None:
    await set_setting(fd, world, "user_requests_per_minute", "1")
    first = await fd.slash("chat", {"message": "one"}, user=world["ann"], channel=world["general"])
    assert first.original.content == "echo: [Ann] one"
    second = await fd.slash("chat", {"message": "two"}, user=world["ann"], channel=world["general"])
    assert second.ephemeral and "over the limit of 1 request a minute" in second.last.content


async def test_image_limit_is_checked_before_any_image_is_made(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    await set_setting(fd, world, "user_images_per_day", "2")
    rec = await fd.slash(
        "imagine", {"prompt": "a fox", "count": 3}, user=world["ann"], channel=world["general"]
    )
    assert "daily image limit (2 a day: 2 left, 3 asked for)" in rec.last.content
    assert fake_ai.requests_to("/images/generations") == []


async def test_docs_upload_over_budget_indexes_nothing(
    fd: FakeDiscord, world: dict, services: Services, fake_ai: FakeOpenAI
) -> None:
    await set_setting(fd, world, "user_tokens_per_day", "1")
    await mention(fd, world, "hello")
    rec = await fd.slash(
        "docs add", {"file": ("a.md", HANDBOOK)}, user=world["ann"], channel=world["general"]
    )
    assert "daily token budget" in rec.last.content and not rec.deferred
    assert fake_ai.requests_to("/embeddings") == []
    assert await services.store.documents([f"server:{world['guild'].id}"], status=None) == []


# --- /usage -----------------------------------------------------------------------------------


async def test_usage_shows_tokens_budget_and_a_chart(
    fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI
) -> None:
    fake_ai.reply_with("alpha beta")
    await mention(fd, world, "hello")
    usage = fake_ai.last_request("/chat/completions").json
    rec = await fd.slash("usage", {}, user=world["ann"], channel=world["general"])
    assert rec.ephemeral and rec.deferred
    embed = rec.original.embeds[0]
    fields = {f.name: f.value for f in embed.fields}
    assert set(fields) == {
        "Ann · today",
        "Ann · this month",
        "This server · today",
        "This server · this month",
    }
    tokens_in = sum(count_tokens(m["content"]) for m in usage["messages"])  # how the fake counts
    assert f"Tokens: {tokens_in:,} in · 2 out" in fields["Ann · today"]
    assert f"{200_000 - tokens_in - 2:,} tokens left" in fields["Ann · today"]
    assert "10 images left" in fields["Ann · today"]
    (chart,) = rec.original.files
    assert chart.filename == "usage.png" and embed.image.url == "attachment://usage.png"
    with Image.open(io.BytesIO(chart.data)) as image:
        assert image.format == "PNG" and image.size == CHART_SIZE


async def test_someone_elses_usage_needs_manage_server(fd: FakeDiscord, world: dict) -> None:
    refused = await fd.slash("usage", {"user": world["bob"]}, user=world["ann"], channel=world["general"])
    assert refused.ephemeral and "Seeing someone else's usage needs the Manage Server permission" in (
        refused.last.content
    )
    allowed = await fd.slash("usage", {"user": world["bob"]}, user=world["admin"], channel=world["general"])
    assert allowed.original.embeds[0].title == "Usage of Bob"


# --- the allow-list ---------------------------------------------------------------------------

ALLOWED, STRANGER = 700000000000000001, 700000000000000002


async def allow_listed_bot(settings, fake_ai: FakeOpenAI) -> TeamBot:
    allowed = make_settings(settings.data_dir, fake_ai.base_url, allowed_guild_ids=str(ALLOWED))
    return TeamBot(await Services.create(allowed), sync_commands=False)


async def test_joining_a_server_not_on_the_list_says_so_and_leaves(settings, fake_ai: FakeOpenAI) -> None:
    fd = await FakeDiscord(await allow_listed_bot(settings, fake_ai)).start()
    try:
        fd.guild("Ours", id=ALLOWED)
        stranger = fd.guild("Elsewhere", id=STRANGER)
        lobby = fd.text_channel(stranger, "lobby")
        for guild_id in (ALLOWED, STRANGER):
            payload = fd.server.full_guild(guild_id)
            payload.pop("unavailable")  # a join, not a reconnect
            payload["system_channel_id"] = str(lobby.id) if guild_id == STRANGER else None
            await fd.dispatch("GUILD_CREATE", payload)
        assert fd.server.left_guilds == [STRANGER]
        assert [m.content for m in fd.sent(lobby)] == [LEAVE_MESSAGE]
    finally:
        await fd.close()


async def test_a_server_not_on_the_list_that_comes_back_later_is_left(settings, fake_ai: FakeOpenAI) -> None:
    fd = await FakeDiscord(await allow_listed_bot(settings, fake_ai)).start()
    try:
        fd.guild("Ours", id=ALLOWED)
        fd.guild("Elsewhere", id=STRANGER)
        for guild_id in (ALLOWED, STRANGER):  # unavailable at start-up, available again now
            await fd.dispatch("GUILD_CREATE", {**fd.server.full_guild(guild_id), "unavailable": False})
        assert fd.server.left_guilds == [STRANGER]
    finally:
        await fd.close()


async def test_at_start_up_the_bot_leaves_servers_not_on_the_list(settings, fake_ai: FakeOpenAI) -> None:
    fd = await FakeDiscord(TeamBot(await Services.create(settings), sync_commands=False)).start()
    try:
        fd.guild("Ours", id=ALLOWED)
        fd.guild("Elsewhere", id=STRANGER)
        await fd.restart(await allow_listed_bot(settings, fake_ai))
        await fd.wait_until(lambda: STRANGER in fd.server.left_guilds, timeout=10)
        assert fd.server.left_guilds == [STRANGER]
        assert fd.bot.get_guild(ALLOWED) is not None
    finally:
        await fd.close()


async def test_a_servers_reply_language_is_the_bots_language_there(fd: FakeDiscord, world: dict) -> None:
    await set_setting(fd, world, "reply_language", "ja")
    shown = await fd.slash("persona show", {}, user=world["ann"], channel=world["general"])  # locale en-US
    assert shown.last.content == t("No persona is set here.", "ja") != "No persona is set here."
    await mention(fd, world, "")  # a message's notes too
    assert fd.last_sent(world["general"]).content == t(EMPTY_MENTION, "ja")
    await set_setting(fd, world, "reply_language", "auto")
    shown = await fd.slash("persona show", {}, user=world["ann"], channel=world["general"], locale="ja")
    assert shown.last.content == t("No persona is set here.", "ja")  # auto: the reader's own
    shown = await fd.slash("persona show", {}, user=world["ann"], channel=world["general"])
    assert shown.last.content == "No persona is set here."


async def test_reply_language_from_the_environment_applies_in_dms(
    settings: Settings, fake_ai: FakeOpenAI
) -> None:
    services = await Services.create(settings.model_copy(update={"reply_language": "ja"}))
    fd = await FakeDiscord(TeamBot(services, sync_commands=False)).start()
    try:
        guild = fd.guild("Team")
        ann = fd.member(guild, "ann", display_name="Ann")
        await fd.send_message(fd.dm_channel(ann), ann, "\u200b")
        assert fd.last_sent(fd.dm_channel(ann)).content == t(EMPTY_MENTION, "ja")
    finally:
        await fd.close()


async def test_team_control_refusals_are_in_the_readers_language(fd: FakeDiscord, world: dict) -> None:
    await set_setting(fd, world, "user_requests_per_minute", "1")
    general, ann = world["general"], world["ann"]
    await fd.slash("chat", {"message": "one"}, user=ann, channel=general, locale="ja")
    refused = await fd.slash("chat", {"message": "two"}, user=ann, channel=general, locale="ja")
    assert "1 分あたり 1 件の上限を超えています" in refused.last.content
    await set_setting(fd, world, "user_requests_per_minute", "unlimited")
    await set_setting(fd, world, "user_tokens_per_day", "1")
    spent = await fd.slash("chat", {"message": "three"}, user=ann, channel=general, locale="ja")
    assert "1 日のトークン予算（1 トークン）を使い切りました。" in spent.last.content
    assert "（UTC の午前 0 時）にリセットされます。" in spent.last.content
    other = await fd.slash("usage", {"user": world["bob"]}, user=ann, channel=general, locale="ja")
    assert other.last.content == "他の人の利用状況の表示には「サーバー管理」権限が必要です。"
    admin = world["admin"]
    bad = await fd.slash(
        "settings set", {"key": "moderation", "value": "maybe"}, user=admin, channel=general, locale="ja"
    )
    assert bad.last.content.endswith("`moderation` は`on` か `off` にしてください。")
    nope = await fd.slash(
        "settings set", {"key": "colour", "value": "red"}, user=admin, channel=general, locale="ja"
    )
    assert "`colour` という設定はありません" in nope.last.content


async def test_forget_me_takes_the_admins_name_off_the_settings_log(
    fd: FakeDiscord, world: dict, services: Services
) -> None:
    await set_setting(fd, world, "user_tokens_per_day", "50k")
    rec = await fd.slash("forget-me", {}, user=world["admin"], channel=world["general"])
    await fd.click(rec.last, label="Delete", user=world["admin"])
    (entry,) = await services.store.settings_log(world["guild"].id)
    assert (entry.user_id, entry.user_name, entry.new_value) == (0, "a deleted user", "50000")
    shown = await fd.slash("settings show", {}, user=world["admin"], channel=world["general"])
    recent = {f.name: f.value for f in shown.last.embeds[0].fields}["Recent changes"]
    assert "**a deleted user** set `user_tokens_per_day`" in recent and "Admin" not in recent


async def test_forget_me_does_not_reset_a_users_budget(
    fd: FakeDiscord, world: dict, services: Services
) -> None:
    await set_setting(fd, world, "user_tokens_per_day", "1")
    await mention(fd, world, "first")
    await mention(fd, world, "second")
    assert "daily token budget" in fd.last_sent(world["general"]).content
    rec = await fd.slash("forget-me", {}, user=world["ann"], channel=world["general"])
    await fd.click(rec.last, label="Delete", user=world["ann"])
    assert rec.last.content.startswith("Done. I deleted:")
    services.limits.ledger.ttl = 0  # the ledger reads the database again, as a minute later would
    await mention(fd, world, "third")
    # Still refused (quietly: the refusal was said a moment ago), not answered.
    assert not any("third" in m.content for m in fd.sent(world["general"]))


async def test_a_limit_refusal_is_said_once_a_minute_not_once_per_message(
    fd: FakeDiscord, world: dict
) -> None:
    await set_setting(fd, world, "user_requests_per_minute", "1")
    for text in ("one", "two", "three", "four"):
        await mention(fd, world, text)
    refusals = [m for m in fd.sent(world["general"]) if "over the limit" in m.content]
    assert len(refusals) == 1
    await mention(fd, world, "five", user="bob")  # someone else's limit is their own
    assert fd.last_sent(world["general"]).content == "echo: [Bob] five"
