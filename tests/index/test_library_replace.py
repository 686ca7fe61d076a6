"""Replacing a document and uploading the same bytes twice at once: a failed or cancelled replacement
leaves the old version whole or the new one in place, and identical content is indexed once."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from llama_index.core.schema import TextNode

from bot.errors import UserError
from bot.llm import Who
from bot.services import Services
from bot.store import DocumentRecord
from index.library import AddResult, Where
from tests.conftest import make_settings
from tests.fakes.openai_server import FakeOpenAI

GENERAL = Where(guild_id=1, channel_id=10, user_id=7)
WHO = Who(1, 7, "ask")
OLD = b"The office wifi password is oldpassword123."
NEW = b"The office wifi password is newpassword456."


async def add(services: Services, data: bytes, name: str) -> AddResult:
    return await services.library.add(data, name, GENERAL, uploader_id=7, uploader_name="Ann")


async def passwords_found(services: Services) -> set[str]:
    answer = await services.answerer.answer("office wifi password", GENERAL, who=WHO)
    return {word for s in answer.sources for word in ("oldpassword123", "newpassword456") if word in s.text}


async def assert_only(services: Services, doc_id: str, password: str) -> None:
    """Exactly one document is recorded, listed, with all of its chunks and nobody else's."""
    records = await services.store.documents(GENERAL.visible_scopes(), status=None)
    assert [(d.id, d.status) for d in records] == [(doc_id, "ready")]
    assert [d.id for d in await services.library.visible(GENERAL)] == [doc_id]
    assert records[0].chunks == services.vectors.chunk_count(doc_id) > 0
    assert services.vectors.doc_ids() == {doc_id}
    assert await passwords_found(services) == {password}


async def test_replacement_failing_at_the_record_switch_keeps_the_old_version(
    services: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    v1 = await add(services, OLD, "wifi.txt")

    async def disk_error(*args: object) -> None:
        raise RuntimeError("disk I/O error")

    monkeypatch.setattr(services.store, "finish_document", disk_error)
    with pytest.raises(RuntimeError, match="disk I/O"):
        await add(services, NEW, "wifi.txt")
    monkeypatch.undo()
    await assert_only(services, v1.record.id, "oldpassword123")
    # And the next try goes through.
    v2 = await add(services, NEW, "wifi.txt")
    assert v2.status == "replaced"
    await assert_only(services, v2.record.id, "newpassword456")


async def test_replacement_failing_at_the_embedding_service_keeps_the_old_version(
    services: Services, fake_ai: FakeOpenAI
) -> None:
    v1 = await add(services, OLD, "wifi.txt")
    fake_ai.fail_next("invalid_key", path="/embeddings")
    with pytest.raises(UserError, match="API key"):
        await add(services, NEW, "wifi.txt")
    await assert_only(services, v1.record.id, "oldpassword123")


@pytest.mark.parametrize("commit_fails", [False, True])
async def test_replacement_cancelled_at_the_record_switch_ends_whole(
    services: Services, monkeypatch: pytest.MonkeyPatch, commit_fails: bool
) -> None:
    v1 = await add(services, OLD, "wifi.txt")
    real = services.store.finish_document
    reached, gate = asyncio.Event(), asyncio.Event()

    async def slow_finish(*args: object) -> None:
        reached.set()
        await gate.wait()
        if commit_fails:
            raise RuntimeError("disk I/O error")
        await real(*args)  # type: ignore[arg-type]

    monkeypatch.setattr(services.store, "finish_document", slow_finish)
    upload = asyncio.create_task(add(services, NEW, "wifi.txt"))
    await asyncio.wait_for(reached.wait(), 30)  # the new chunks are in, the records not yet switched
    upload.cancel()
    await asyncio.sleep(0.05)
    assert not upload.done()  # the commit in flight is finished (or undone), not cut in half
    gate.set()
    with pytest.raises(asyncio.CancelledError):
        await upload
    monkeypatch.undo()
    if commit_fails:
        await assert_only(services, v1.record.id, "oldpassword123")
    else:
        (v2,) = await services.library.visible(GENERAL)
        assert v2.id != v1.record.id and v2.size == len(NEW)
        await assert_only(services, v2.id, "newpassword456")


async def test_same_content_under_two_names_at_once_is_indexed_once(
    services: Services, fake_ai: FakeOpenAI
) -> None:
    big = b"# Doc\n\n" + b"\n\n".join(
        b"Paragraph %d about holidays and travel expenses." % i for i in range(400)
    )
    first, second = await asyncio.gather(add(services, big, "policy.md"), add(services, big, "policy (1).md"))
    assert (first.status, second.status) == ("indexed", "unchanged")  # as when uploaded one after the other
    assert second.record.id == first.record.id and second.record.name == "policy.md"
    assert [d.name for d in await services.library.visible(GENERAL)] == ["policy.md"]
    assert services.vectors.doc_ids() == {first.record.id}
    # The locks are let go of once nobody holds them.
    assert services.library._locks == {}


async def test_restart_finishes_a_replacement_cut_off_by_a_crash(tmp_path: Path, fake_ai: FakeOpenAI) -> None:
    settings = make_settings(tmp_path, fake_ai.base_url)
    services = await Services.create(settings)
    v1 = await add(services, OLD, "wifi.txt")
    # A crash after the new version's chunks went in, before its record was switched to ready...
    v2 = DocumentRecord(
        "v2",
        "1",
        "server",
        "server:1",
        1,
        10,
        "wifi.txt",
        "text",
        len(NEW),
        "new",
        None,
        0,
        7,
        "Ann",
        "indexing",
        1.0,
    )
    await services.store.add_document(v2)

    def chunk(doc_id: str, text: str) -> TextNode:
        meta = {"shard": "1", "scope": "server:1", "doc_id": doc_id}
        return TextNode(id_=f"{doc_id}-0", text=text, metadata=meta, embedding=[1.0] + [0.0] * 511)

    services.vectors.replace_document([], [chunk("v2", NEW.decode())])
    # ...and, from an earlier crash, chunks of a replaced version whose record is already gone.
    services.vectors.replace_document([], [chunk("gone", "stale text")])
    await services.aclose()

    restarted = await Services.create(settings)
    await restarted.start()
    records = await restarted.store.documents(["server:1"], status=None)
    assert [(d.id, d.status, d.chunks) for d in records] == [("v2", "ready", 1)]
    assert restarted.vectors.doc_ids() == {"v2"}
    assert restarted.vectors.chunk_count(v1.record.id) == 0
    await restarted.aclose()


async def test_removing_a_version_that_is_being_replaced_says_so_and_keeps_the_new(
    services: Services, fake_ai: FakeOpenAI
) -> None:
    v1 = await add(services, OLD, "wifi.txt")
    fake_ai.latency = 0.3  # the new version's embedding takes a while
    replacing = asyncio.create_task(add(services, NEW, "wifi.txt"))
    await asyncio.sleep(0.1)  # it holds the name's lock now
    with pytest.raises(UserError, match="can't find that document"):
        await services.library.remove(v1.record.id, GENERAL, user_id=7, can_manage=False)
    v2 = await replacing
    await assert_only(services, v2.record.id, "newpassword456")
