"""The embedded vector store: nearest chunks, atomic replace, delete, restart, concurrency, keywords."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from llama_index.core.schema import TextNode
from llama_index.core.vector_stores.types import (
    VectorStoreQuery,
)

from index.vectors import DB_NAME, VectorStore, VectorStoreError, keyword_query, keyword_text, scope_filters
from tests.index.builders import DIM, axis, chunk, ids


@pytest.fixture
def store(tmp_path: Path) -> Iterator[VectorStore]:
    vectors = VectorStore.in_dir(tmp_path / "index")
    yield vectors
    vectors.close()


def test_search_returns_the_nearest_chunks_best_first(store: VectorStore) -> None:
    store.add([chunk("a", i, f"text {i}", axis(i)) for i in range(DIM)])
    query = [0.1] * DIM
    query[3] = 2.0
    found = store.search("1", ["server:1"], query, 3)
    assert ids(found)[0] == "a:3"
    scores = [score for _, score in found]
    assert len(found) == 3 and scores == sorted(scores, reverse=True)
    assert scores[0] == pytest.approx(2.0 / np.linalg.norm(query), abs=1e-5)  # cosine, whatever the lengths
    assert found[0][0].get_content() == "text 3"
    assert found[0][0].metadata["filename"] == "a.md"
    assert found[0][0].ref_doc_id == "a"
    assert store.search("1", ["server:1"], query, 100)[-1][0].node_id != "a:3"
    assert len(store.search("1", ["server:1"], query, 100)) == DIM


def test_deleted_chunks_do_not_crowd_out_the_rest(store: VectorStore) -> None:
    store.add([chunk("near", i, "near", axis(0)) for i in range(5)])
    store.add([chunk("far", i, "far", [1.0] * DIM) for i in range(3)])
    store.search("1", ["server:1"], axis(0), 2)
    store.delete_document("near")
    assert [n.ref_doc_id for n, _ in store.search("1", ["server:1"], axis(0), 2)] == ["far", "far"]


def test_replace_swaps_old_for_new(store: VectorStore) -> None:
    store.add([chunk("old", i, f"old version {i}", axis(i)) for i in range(3)])
    store.search("1", ["server:1"], axis(0), 5)  # load the cache, so the swap must update it
    added = store.replace_document(["old"], [chunk("new", i, f"new edition {i}", axis(i)) for i in range(2)])
    assert added == 2
    assert store.chunk_count("old") == 0 and store.chunk_count("new") == 2
    assert {n.ref_doc_id for n, _ in store.search("1", ["server:1"], axis(0), 10)} == {"new"}
    assert store.keyword_search("1", ["server:1"], "old version", 10) == []
    assert len(store.keyword_search("1", ["server:1"], "edition", 10)) == 2


def assert_only_old(store: VectorStore) -> None:
    """The old document is whole, and nothing of the new one is visible anywhere."""
    assert store.chunk_count("old") == 3 and store.chunk_count("new") == 0
    assert sorted(ids(store.search("1", ["server:1"], [1.0] * DIM, 10))) == ["old:0", "old:1", "old:2"]
    assert len(store.keyword_search("1", ["server:1"], "version", 10)) == 3
    assert store.keyword_search("1", ["server:1"], "edition", 10) == []


@pytest.mark.parametrize(
    "bad",
    [axis(0, DIM + 1), None, [0.0] * DIM, [float("nan")] + [0.0] * (DIM - 1)],
    ids=["wrong-size", "missing", "zero", "nan"],
)
def test_replace_with_a_bad_embedding_leaves_the_old_document(
    tmp_path: Path, store: VectorStore, bad: list[float] | None
) -> None:
    store.add([chunk("old", i, f"old version {i}", axis(i)) for i in range(3)])
    store.search("1", ["server:1"], axis(0), 5)
    new = [chunk("new", 0, "new edition", axis(0)), chunk("new", 1, "new edition", axis(1))]
    with pytest.raises(ValueError):
        store.replace_document(["old"], [*new, chunk("new", 2, "new edition", bad)])
    assert_only_old(store)


def test_a_failure_inside_the_replace_transaction_rolls_all_of_it_back(
    tmp_path: Path, store: VectorStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.add([chunk("old", i, f"old version {i}", axis(i)) for i in range(3)])
    store.search("1", ["server:1"], axis(0), 5)
    original = VectorStore._insert

    def insert_then_crash(self: VectorStore, *args: Any) -> np.ndarray:
        original(self, *args)  # the old rows are deleted and the new ones written: now fail
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(VectorStore, "_insert", insert_then_crash)
    with pytest.raises(RuntimeError, match="disk on fire"):
        store.replace_document(["old"], [chunk("new", i, "new edition", axis(i)) for i in range(3)])
    monkeypatch.undo()
    assert_only_old(store)
    reopened = VectorStore.in_dir(tmp_path / "index")
    try:
        assert_only_old(reopened)
    finally:
        reopened.close()


def test_delete_document_removes_its_vectors_and_keywords(store: VectorStore) -> None:
    store.add([chunk("a", i, "alpha words", axis(i)) for i in range(3)])
    store.add([chunk("b", i, "beta words", axis(i)) for i in range(2)])
    store.search("1", ["server:1"], axis(0), 5)
    assert store.delete_document("a") == 3
    assert store.delete_document("a") == 0
    assert store.chunk_count("a") == 0 and store.chunk_count("b") == 2
    assert {n.ref_doc_id for n, _ in store.search("1", ["server:1"], [1.0] * DIM, 10)} == {"b"}
    assert store.keyword_search("1", ["server:1"], "alpha", 10) == []
    store.delete("b")  # the LlamaIndex name for the same thing
    assert store.search("1", ["server:1"], axis(0), 10) == []


def test_adding_a_node_again_overwrites_it(store: VectorStore) -> None:
    store.add([chunk("a", 0, "first text", axis(0))])
    store.search("1", ["server:1"], axis(0), 5)
    store.add([chunk("a", 0, "second text", axis(1))])
    found = store.search("1", ["server:1"], axis(1), 5)
    assert [(n.node_id, n.get_content()) for n, _ in found] == [("a:0", "second text")]
    assert store.chunk_count("a") == 1


def test_many_deletes_compact_the_cache_and_keep_results_right(store: VectorStore) -> None:
    rng = np.random.default_rng(7)
    store.add([chunk("big", i, "filler", rng.standard_normal(DIM).tolist()) for i in range(2500)])
    store.add([chunk("keep", 0, "kept", axis(2))])
    store.search("1", ["server:1"], axis(2), 1)
    store.delete_document("big")
    assert ids(store.search("1", ["server:1"], axis(2), 5)) == ["keep:0"]
    store.add([chunk("later", 0, "later", axis(3))])
    assert ids(store.search("1", ["server:1"], axis(3), 1)) == ["later:0"]


def test_a_new_object_on_the_same_file_sees_everything(tmp_path: Path) -> None:
    first = VectorStore(tmp_path / "index" / DB_NAME)
    first.add([chunk("a", i, f"alpha {i} 会議の議事録", axis(i)) for i in range(3)])
    first.add([chunk("b", 0, "beta", axis(0), shard="2", scope="channel:9")])
    first.delete_document("a")
    first.add([chunk("a", i, f"alpha {i} 会議の議事録", axis(i)) for i in range(2)])
    first.close()
    again = VectorStore.in_dir(tmp_path / "index")
    try:
        assert ids(again.search("1", ["server:1"], axis(1), 1)) == ["a:1"]
        assert ids(again.search("2", ["channel:9"], axis(0), 5)) == ["b:0"]
        assert again.chunk_count("a") == 2
        assert len(again.keyword_search("1", ["server:1"], "議事録", 5)) == 2
    finally:
        again.close()


def test_cache_follows_writes_made_through_another_object(tmp_path: Path) -> None:
    bot = VectorStore.in_dir(tmp_path)
    cli = VectorStore.in_dir(tmp_path)  # e.g. `teambot ingest` while the bot runs
    try:
        bot.add([chunk("a", 0, "alpha", axis(0))])
        assert ids(bot.search("1", ["server:1"], axis(0), 5)) == ["a:0"]
        cli.add([chunk("b", 0, "beta", axis(0))])
        cli.delete_document("a")
        assert ids(bot.search("1", ["server:1"], axis(0), 5)) == ["b:0"]
        bot.add([chunk("c", 0, "gamma", axis(1))])
        assert ids(cli.search("1", ["server:1"], axis(1), 1)) == ["c:0"]
        assert ids(bot.search("1", ["server:1"], axis(1), 1)) == ["c:0"]
        cli.add([chunk("d", 0, "delta", axis(2))])
        bot.add([chunk("e", 0, "epsilon", axis(3))])  # bot writes before it reads again
        assert ids(bot.search("1", ["server:1"], [1.0] * DIM, 9)) == ["b:0", "c:0", "d:0", "e:0"]
    finally:
        bot.close()
        cli.close()


def test_searches_running_alongside_writes_stay_in_scope(store: VectorStore) -> None:
    store.add([chunk("base", i, "steady words", axis(i)) for i in range(4)])
    store.add([chunk("secret", i, "steady words", axis(i), scope="channel:99") for i in range(4)])
    stop = threading.Event()

    def write() -> None:
        try:
            for round_ in range(20):
                nodes = [chunk(f"doc{round_}", i, "steady words", axis(i % DIM)) for i in range(50)]
                store.replace_document([f"doc{round_ - 1}"], nodes)
        finally:
            stop.set()

    def read() -> int:
        seen = 0
        while not stop.is_set():
            for node, _ in store.search("1", ["server:1"], axis(1), 10) + store.keyword_search(
                "1", ["server:1"], "steady", 10
            ):
                assert node.metadata["scope"] == "server:1"
                seen += 1
        return seen

    with ThreadPoolExecutor(4) as pool:
        readers = [pool.submit(read) for _ in range(3)]
        pool.submit(write).result()
        assert all(r.result() > 0 for r in readers)
    assert store.chunk_count("doc19") == 50 and store.chunk_count("doc18") == 0
    assert len(store.search("1", ["server:1"], axis(1), 100)) == 54


def test_keyword_search_in_english_ranks_and_stems(store: VectorStore) -> None:
    store.add(
        [
            chunk("deploy", 0, "Deploying the service: run the deployment script, restart nginx.", axis(0)),
            chunk("vacation", 0, "Vacation requests go to your manager two weeks ahead.", axis(1)),
            chunk("other", 0, "The script deploys nothing; it only prints a report.", axis(2)),
        ]
    )
    found = store.keyword_search("1", ["server:1"], "How do I deploy and restart nginx?", 5)
    assert ids(found)[0] == "deploy:0"
    assert "vacation:0" not in ids(found)
    assert all(score > 0 for _, score in found)
    assert ids(store.keyword_search("1", ["server:1"], "VACATION request", 5)) == ["vacation:0"]


def test_keyword_search_finds_japanese_in_japanese_text(store: VectorStore) -> None:
    meeting = "会議は毎週月曜日の午前十時に開催されます。議事録は共有フォルダに保存してください。"
    expenses = "経費精算の締め切りは毎月二十五日です。領収書を添付してください。"
    restart = "サーバーの再起動手順：まずデータベースを停止します。"
    store.add(
        [
            chunk("ja", 0, meeting, axis(0)),
            chunk("ja", 1, expenses, axis(1)),
            chunk("en", 0, "The meeting happens every Monday at ten.", axis(2)),
            chunk("ja-ch", 0, restart, axis(3), scope="channel:10"),
        ]
    )
    server = ["server:1"]
    assert ids(store.keyword_search("1", server, "議事録", 5)) == ["ja:0"]  # a three-character word
    assert ids(store.keyword_search("1", server, "経費", 5)) == ["ja:1"]  # a two-character word
    assert ids(store.keyword_search("1", server, "会議はいつ開催されますか？", 5))[0] == "ja:0"  # a question
    assert ids(store.keyword_search("1", server, "領収書の締め切りを教えて", 5))[0] == "ja:1"
    assert ids(store.keyword_search("1", server, "経", 5)) == ["ja:1"]  # one character
    assert ids(store.keyword_search("1", server, "ｻｰﾊﾞｰ", 5)) == []  # half-width kana; but out of scope
    assert ids(store.keyword_search("1", ["server:1", "channel:10"], "ｻｰﾊﾞｰ 再起動", 5)) == ["ja-ch:0"]
    assert ids(store.keyword_search("1", server, "Monday meeting", 5)) == ["en:0"]


def test_keyword_query_quotes_every_term() -> None:
    query = keyword_query('NEAR("a" b) OR c* 東京都')
    assert query == '"NEAR" OR "a" OR "b" OR "OR" OR "c" OR "東京" OR "京都" OR "東京 京都"'
    assert keyword_query('"*() -:^') == ""
    assert keyword_text("ＡＢＣ 東京都") == "ABC  東京 京都 都 "


def test_embeddings_of_another_size_are_refused(store: VectorStore) -> None:
    store.add([chunk("a", 0, "a", axis(0))])
    with pytest.raises(ValueError, match="dimensions"):
        store.add([chunk("b", 0, "b", axis(0, DIM * 2))])
    with pytest.raises(ValueError, match="dimensions"):
        store.search("1", ["server:1"], axis(0, DIM * 2), 5)
    with pytest.raises(ValueError, match="shard"):
        store.add([TextNode(id_="x", text="x", embedding=axis(0))])


def test_empty_and_unknown_shards_return_nothing(store: VectorStore) -> None:
    assert store.search("1", ["server:1"], axis(0), 5) == []
    store.add([chunk("a", 0, "alpha", axis(0))])
    assert store.search("9", ["server:9"], axis(0), 5) == []
    assert store.search("1", [], axis(0), 5) == []
    assert store.search("1", ["server:1"], axis(0), 0) == []
    assert store.search("1", ["server:1"], [0.0] * DIM, 5) == []


def test_a_closed_store_refuses_calls(tmp_path: Path) -> None:
    store = VectorStore.in_dir(tmp_path)
    store.add([chunk("a", 0, "alpha", axis(0))])
    store.close()
    store.close()
    for call in (
        lambda: store.search("1", ["server:1"], axis(0), 5),
        lambda: store.keyword_search("1", ["server:1"], "alpha", 5),
        lambda: store.add([chunk("b", 0, "beta", axis(0))]),
        lambda: store.chunk_count("a"),
    ):
        with pytest.raises(VectorStoreError, match="closed"):
            call()


def test_close_waits_for_a_running_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = VectorStore.in_dir(tmp_path)
    store.add([chunk("a", 0, "alpha", axis(0))])
    entered, release = threading.Event(), threading.Event()
    original = VectorStore._fetch

    def slow_fetch(self: VectorStore, *args: Any) -> Any:
        entered.set()
        release.wait(5)
        return original(self, *args)

    monkeypatch.setattr(VectorStore, "_fetch", slow_fetch)
    with ThreadPoolExecutor(2) as pool:
        search = pool.submit(store.search, "1", ["server:1"], axis(0), 5)
        assert entered.wait(5)
        closing = pool.submit(store.close)
        time.sleep(0.05)
        assert not closing.done()  # closing the connection under the search would crash the process
        release.set()
        assert ids(search.result()) == ["a:0"]
        closing.result(5)


async def test_async_wrappers(store: VectorStore) -> None:
    await store.async_add([chunk("a", 0, "alpha words", axis(0))])
    assert await store.areplace_document([], [chunk("b", 0, "beta words", axis(1))]) == 1
    assert ids(await store.asearch("1", ["server:1"], axis(1), 1)) == ["b:0"]
    assert ids(await store.akeyword_search("1", ["server:1"], "alpha", 5)) == ["a:0"]
    filters = scope_filters("1", ["server:1"])
    result = await store.aquery(VectorStoreQuery(query_embedding=axis(0), filters=filters))
    assert result.ids == ["a:0"]
    assert await store.achunk_count("a") == 1
    assert await store.adelete_document("a") == 1
    await store.adelete("b")
    assert await store.asearch("1", ["server:1"], axis(1), 1) == []
