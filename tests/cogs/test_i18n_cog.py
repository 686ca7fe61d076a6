"""Japanese through Discord: synced descriptions, and the bot's own words for a `ja` user or server."""

from __future__ import annotations

import discord
import pytest

from bot.app import TeamBot
from bot.services import Services
from tests.fakes.discord import FakeDiscord
from tests.fakes.openai_server import FakeOpenAI


@pytest.fixture
def world(fd: FakeDiscord) -> dict:
    guild = fd.guild("Team")
    return {
        "guild": guild,
        "general": fd.text_channel(guild, "general"),
        "aiko": fd.member(guild, "aiko", display_name="Aiko", permissions=discord.Permissions.none()),
        "mod": fd.member(
            guild, "mod", display_name="Mod", permissions=discord.Permissions(manage_channels=True)
        ),
    }


def synced(fd: FakeDiscord) -> dict[str, dict]:
    (sync,) = [c for c in fd.calls if c.method == "PUT" and c.path.endswith("/commands")]
    return {c["name"]: c for c in sync.json}


async def test_command_descriptions_and_choices_are_synced_in_japanese(services: Services) -> None:
    fd = await FakeDiscord(TeamBot(services)).start()
    commands = synced(fd)
    await fd.close()
    assert commands["chat"]["description_localizations"]["ja"] == "このチャンネルの会話でボットと話す"
    assert commands["chat"]["options"][0]["description_localizations"]["ja"] == "伝えたいこと"
    assert commands["summarize"]["description_localizations"]["ja"].startswith("このチャンネルの流れ")
    assert commands["forget-me"]["description_localizations"]["ja"].startswith("ボットが保存している")
    assert commands["docs"]["description_localizations"]["ja"] == "チームのドキュメント"
    add = next(o for o in commands["docs"]["options"] if o["name"] == "add")
    scope = next(o for o in add["options"] if o["name"] == "scope")
    assert scope["choices"][0]["name_localizations"]["ja"] == "サーバー（このサーバーの全チャンネル）"
    size = next(o for o in commands["imagine"]["options"] if o["name"] == "size")
    assert [c["name_localizations"].get("ja") for c in size["choices"]] == ["正方形", "縦長", "横長"]
    # Names stay English everywhere, and English readers see no localization they did not ask for.
    assert all(not c.get("name_localizations") for c in commands.values())
    assert all(set(c["description_localizations"]) <= {"ja"} for c in commands.values() if c["type"] == 1)
    everyone = ["chat", "reset", "persona", "docs", "ask", "code", "imagine", "image", "summarize"]
    everyone.append("forget-me")
    missing = [name for name in everyone if "ja" not in commands[name]["description_localizations"]]
    assert missing == []


async def test_permission_refusal_in_japanese(fd: FakeDiscord, world: dict) -> None:
    rec = await fd.slash(
        "persona set", {"prompt": "海賊のように"}, user=world["aiko"], channel=world["general"], locale="ja"
    )
    assert rec.ephemeral
    assert rec.last.content == "ペルソナを設定するには「チャンネルの管理」権限が必要です。"


async def test_reset_confirmation_and_result_in_japanese(fd: FakeDiscord, world: dict, services) -> None:
    await fd.send_message(world["general"], world["mod"], f"{fd.bot_mention} hi", mentions_bot=True)
    rec = await fd.slash("reset", {}, user=world["mod"], channel=world["general"], locale="ja")
    assert "元に戻すことはできません" in rec.last.content
    labels = [c["label"] for row in rec.last.payload["components"] for c in row["components"]]
    assert labels == ["消す", "キャンセル"]
    await fd.click(rec.last, label="消す", user=world["mod"], locale="ja")
    assert rec.last.content == "完了：このチャンネルのメッセージ 2 件を記憶から消しました。"
    assert await services.store.all_turns(world["general"].id) == []


async def test_provider_error_in_japanese(fd: FakeDiscord, world: dict, fake_ai: FakeOpenAI) -> None:
    fake_ai.fail_next("quota")
    rec = await fd.slash(
        "chat", {"message": "こんにちは"}, user=world["aiko"], channel=world["general"], locale="ja"
    )
    assert "利用枠を使い切りました" in rec.original.content and "考え中" not in rec.original.content


async def test_generic_error_id_in_japanese(fd: FakeDiscord, world: dict, services, monkeypatch) -> None:
    async def broken(channel_id: int) -> None:
        raise RuntimeError("database on fire")

    monkeypatch.setattr(services.store, "channel_state", broken)
    rec = await fd.slash("persona show", {}, user=world["aiko"], channel=world["general"], locale="ja")
    assert rec.last.content.startswith("ボット側で問題が発生しました（エラー ID `")
    assert "database on fire" not in rec.last.content


async def test_english_users_still_get_english(fd: FakeDiscord, world: dict) -> None:
    rec = await fd.slash("persona set", {"prompt": "x"}, user=world["aiko"], channel=world["general"])
    assert rec.last.content == "Setting the persona needs the Manage Channels permission."


async def test_mentions_use_the_servers_preferred_locale(fd: FakeDiscord, fake_ai: FakeOpenAI) -> None:
    guild = fd.guild("チーム", locale="ja")
    channel = fd.text_channel(guild, "雑談")
    ken = fd.member(guild, "ken", display_name="Ken")
    await fd.send_message(channel, ken, fd.bot_mention, mentions_bot=True)
    assert fd.last_sent(channel).content.startswith("こんにちは！質問と一緒にメンションするか")
    fake_ai.fail_next("server_error", times=5)
    await fd.send_message(channel, ken, f"{fd.bot_mention} 質問です", mentions_bot=True)
    expected = "⚠️ AI プロバイダー側で問題が発生しました。少し待ってからもう一度お試しください。"
    assert fd.last_sent(channel).content == expected


async def test_document_summary_and_refusal_in_japanese(fd: FakeDiscord, world: dict) -> None:
    rec = await fd.slash(
        "docs add",
        {
            "file": ("手順書.md", "# 手順\n\nデプロイは金曜日に行います。".encode()),
            "file2": ("表.xlsx", b"PK\x03\x04" + bytes(30)),
        },
        user=world["aiko"],
        channel=world["general"],
        locale="ja",
    )
    lines = rec.original.content.splitlines()
    assert lines[0].startswith("✅ **手順書.md** をインデックスしました：1 チャンク（")
    assert lines[1].startswith("⚠️ **表.xlsx**: ") and "対応形式：" in lines[1]
    listed = await fd.slash("docs list", {}, user=world["aiko"], channel=world["general"], locale="ja")
    embed = listed.last.embeds[0]
    assert embed.title == "このチャンネルのドキュメント（1 件）"
    assert "1 チャンク" in str(embed.description) and "Aiko さんが追加" in str(embed.description)
