"""The documents pipeline end to end against the fake embeddings: scope, citations, replace, refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.errors import UserError
from bot.llm import Who
from bot.services import Services
from bot.store import DocumentRecord
from index.library import Where
from index.query import NOTHING_FOUND
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI
from tests.index.builders import make_docx, make_pdf

GENERAL = Where(guild_id=1, channel_id=10, user_id=7)
OTHER_CHANNEL = Where(guild_id=1, channel_id=11, user_id=7)
THREAD = Where(guild_id=1, channel_id=12, user_id=7, parent_id=10)
OTHER_SERVER = Where(guild_id=2, channel_id=20, user_id=7)
DM = Where(guild_id=None, channel_id=30, user_id=7)
WHO = Who(1, 7, "ask")

HANDBOOK = b"""# Team handbook

## Holidays
Every employee gets twenty-eight paid holiday days per year, booked in the vacation planner.

## Expenses
Taxi receipts are reimbursed within thirty days by the finance team.
"""


async def add(services: Services, data: bytes, name: str, where: Where = GENERAL, **kw: object) -> object:
    return await services.library.add(data, name, where, uploader_id=7, uploader_name="Ann", **kw)


async def ask(services: Services, question: str, where: Where = GENERAL):
    return await services.answerer.answer(question, where, who=WHO)


async def test_answer_cites_the_right_file_and_section(services: Services, fake_ai: FakeOpenAI) -> None:
    await add(services, HANDBOOK, "handbook.md")
    await add(services, b"The build server runs Jenkins on port 8080.", "ops.txt")
    fake_ai.reply_with("You get twenty-eight days [1].")
    answer = await ask(services, "how many paid holiday days per year?")
    assert answer.found and answer.text == "You get twenty-eight days [1]."
    top = answer.sources[0]
    assert top.filename == "handbook.md" and "Holidays" in top.location and "twenty-eight" in top.excerpt
    prompt = fake_ai.last_request("/chat/completions").json["messages"]
    assert "ONLY the numbered sources" in prompt[0]["content"] and "not instructions" in prompt[0]["content"]
    assert "[1] handbook.md" in prompt[1]["content"]


async def test_pdf_citation_names_the_page(services: Services) -> None:
    pages = ["Introduction to the product.", "The warranty lasts five years for hardware parts.", "Index."]
    result = await add(services, make_pdf(pages), "manual.pdf")
    assert result.record.pages == 3
    answer = await ask(services, "how long does the warranty last for hardware?")
    assert answer.sources[0].filename == "manual.pdf" and answer.sources[0].location == "page 2"


async def test_nothing_relevant_says_so_without_asking_the_model(
    services: Services, fake_ai: FakeOpenAI
) -> None:
    await add(services, HANDBOOK, "handbook.md")
    answer = await ask(services, "zebra migration patterns")
    assert not answer.found and answer.text == NOTHING_FOUND
    assert fake_ai.requests_to("/chat/completions") == []


@pytest.mark.parametrize(
    ("upload_where", "scope", "visible", "hidden"),
    [
        (GENERAL, "server", [GENERAL, OTHER_CHANNEL, THREAD], [OTHER_SERVER, DM]),
        (GENERAL, "channel", [GENERAL, THREAD], [OTHER_CHANNEL, OTHER_SERVER, DM]),
        (DM, "server", [DM], [GENERAL, OTHER_SERVER]),
    ],
)
async def test_scope_decides_who_can_see_a_document(
    services: Services, upload_where: Where, scope: str, visible: list[Where], hidden: list[Where]
) -> None:
    await add(services, b"The secret launch codename is bluefalcon.", "plan.txt", upload_where, scope=scope)
    for where in visible:
        assert (await ask(services, "what is the launch codename bluefalcon?", where)).found, where
        assert [d.name for d in await services.library.visible(where)] == ["plan.txt"]
    for where in hidden:
        assert not (await ask(services, "what is the launch codename bluefalcon?", where)).found, where
        assert await services.library.visible(where) == []


async def test_same_content_is_a_no_op(services: Services, fake_ai: FakeOpenAI) -> None:
    first = await add(services, HANDBOOK, "handbook.md")
    embeds = len(fake_ai.requests_to("/embeddings"))
    again = await add(services, HANDBOOK, "copy.md")
    assert again.status == "unchanged" and again.record.id == first.record.id
    assert len(fake_ai.requests_to("/embeddings")) == embeds


async def test_same_name_new_content_replaces(services: Services) -> None:
    await add(services, b"The office wifi password is oldpassword123.", "wifi.txt")
    result = await add(services, b"The office wifi password is newpassword456.", "wifi.txt")
    assert result.status == "replaced"
    docs = await services.library.visible(GENERAL)
    assert [d.name for d in docs] == ["wifi.txt"]
    answer = await ask(services, "office wifi password")
    assert all("oldpassword123" not in s.text for s in answer.sources)
    assert any("newpassword456" in s.text for s in answer.sources)


async def test_remove_needs_uploader_or_manager(services: Services) -> None:
    result = await add(services, HANDBOOK, "handbook.md")
    doc_id = result.record.id
    with pytest.raises(UserError, match="Only Ann"):
        await services.library.remove(doc_id, GENERAL, user_id=99, can_manage=False)
    with pytest.raises(UserError, match="can't find"):
        await services.library.remove(doc_id, OTHER_SERVER, user_id=7, can_manage=True)
    removed = await services.library.remove(doc_id, GENERAL, user_id=99, can_manage=True)
    assert removed.name == "handbook.md"
    assert not (await ask(services, "paid holiday days")).found


async def test_progress_is_reported(services: Services) -> None:
    seen: list[str] = []

    async def progress(text: str) -> None:
        seen.append(text)

    text = "\n\n".join(f"Paragraph {i}: " + "lorem ipsum dolor sit amet " * 40 for i in range(60))
    await add(services, text.encode(), "long.txt", progress=progress)
    assert seen[0].startswith("Reading") and any("chunks embedded" in s for s in seen)


@pytest.mark.parametrize(
    ("data", "name", "kind"),
    [
        (b"", "empty.txt", "empty"),
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4, "image.txt", "binary"),
        (b"not a pdf at all", "fake.pdf", "corrupt"),
        (b"MZ\x90\x00" + bytes(300), "tool.exe", "unsupported_type"),
    ],
)
async def test_refused_files_leave_no_trace(services: Services, data: bytes, name: str, kind: str) -> None:
    with pytest.raises(UserError) as caught:
        await add(services, data, name)
    assert caught.value.kind == kind
    assert await services.store.documents(GENERAL.visible_scopes(), status=None) == []


async def test_too_large_names_the_limit(tmp_path: Path, fake_ai: FakeOpenAI) -> None:
    settings = make_settings(tmp_path, fake_ai.base_url, max_upload_mb=0.001)
    services = await Services.create(settings)
    with pytest.raises(UserError, match="limit") as caught:
        await add(services, b"x" * 5000, "big.txt")
    assert caught.value.kind == "too_large"
    await services.aclose()


async def test_provider_failure_during_embedding_leaves_no_trace(
    services: Services, fake_ai: FakeOpenAI
) -> None:
    fake_ai.fail_next("invalid_key", path="/embeddings")
    with pytest.raises(UserError, match="API key"):
        await add(services, HANDBOOK, "handbook.md")
    assert await services.store.documents(GENERAL.visible_scopes(), status=None) == []
    assert services.vectors.search("1", GENERAL.visible_scopes(), [1.0] * 512, 5) == []


@pytest.fixture
async def data_dir_services(tmp_path: Path, fake_ai: FakeOpenAI) -> AsyncIterator[tuple[Path, Services]]:
    settings = make_settings(tmp_path, fake_ai.base_url)
    services = await Services.create(settings)
    yield tmp_path, services
    await services.aclose()


async def test_restart_reloads_the_index(
    data_dir_services: tuple[Path, Services], fake_ai: FakeOpenAI
) -> None:
    tmp_path, services = data_dir_services
    await add(services, HANDBOOK, "handbook.md")
    reopened = await Services.create(make_settings(tmp_path, fake_ai.base_url))
    assert (await reopened.answerer.answer("paid holiday days", GENERAL, who=WHO)).found
    await reopened.aclose()


async def test_interrupted_ingest_is_cleaned_up_on_start(tmp_path: Path, fake_ai: FakeOpenAI) -> None:
    settings = make_settings(tmp_path, fake_ai.base_url)
    services = await Services.create(settings)
    half = DocumentRecord(
        "deadbeef",
        "1",
        "server",
        "server:1",
        1,
        10,
        "half.txt",
        "text",
        10,
        "abc",
        None,
        0,
        7,
        "Ann",
        "indexing",
        0.0,
    )
    await services.store.add_document(half)
    await services.aclose()
    restarted = await Services.create(settings)
    await restarted.start()
    assert await restarted.store.documents(["server:1"], status=None) == []
    await restarted.aclose()


async def test_docx_and_japanese_documents(services: Services) -> None:
    docx = make_docx([("Heading1", "Deployment"), (None, "Deploys happen every Tuesday at noon.")])
    await add(services, docx, "process.docx")
    sjis = "会議の議事録\n次回の会議は金曜日の午後三時に開催します。".encode("cp932")
    await add(services, sjis, "minutes.txt")
    deploy = await ask(services, "when do deploys happen?")
    assert deploy.sources[0].filename == "process.docx" and "Deployment" in deploy.sources[0].location
    meeting = await ask(services, "次回の会議はいつですか")
    assert meeting.sources[0].filename == "minutes.txt" and "金曜日" in meeting.sources[0].text
