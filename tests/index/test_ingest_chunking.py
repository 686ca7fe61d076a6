"""Chunking parsed files: small metadata, stable ids, token budgets, sentence ends, and speed."""

from __future__ import annotations

import itertools
import re
import time

import pytest
from llama_index.core.schema import MetadataMode, NodeRelationship

from bot.tokens import count_tokens
from index.chunking import chunk_document, node_id
from index.ingest import parse_document
from tests.index.builders import EXTRA, GUIDE, NEKO, make_pdf


def test_nodes_carry_small_metadata_and_embed_only_name_and_section() -> None:
    parsed = parse_document(GUIDE.encode(), "guide.md")
    nodes = chunk_document(parsed, doc_id="doc-1", filename="guide.md", extra_metadata=EXTRA)
    node = nodes[2]
    assert node.metadata == {
        "doc_id": "doc-1", "filename": "guide.md", "kind": "markdown", **EXTRA,
        "section": "Setup > Requirements",
    }
    embedded = node.get_content(MetadataMode.EMBED)
    assert embedded.startswith("filename: guide.md\nsection: Setup > Requirements\n\n")
    assert "222" not in embedded and "uploader" not in embedded and "doc-1" not in embedded
    for_llm = node.get_content(MetadataMode.LLM)
    assert "section: Setup > Requirements" in for_llm and "guild" not in for_llm
    assert node.ref_doc_id == "doc-1"
    assert node.relationships[NodeRelationship.SOURCE].node_id == "doc-1"


def test_pdf_nodes_cite_their_page() -> None:
    pdf = make_pdf(["First page words.", "Second page words."])
    nodes = chunk_document(parse_document(pdf, "r.pdf"), doc_id="p", filename="r.pdf", extra_metadata=EXTRA)
    assert [(n.metadata["page"], n.text) for n in nodes] == [
        (1, "First page words."), (2, "Second page words."),
    ]
    assert "page: 2" in nodes[1].get_content(MetadataMode.LLM)


def test_node_ids_are_deterministic_per_document_and_index() -> None:
    parsed = parse_document(GUIDE.encode(), "guide.md")
    first = chunk_document(parsed, doc_id="doc-1", filename="guide.md", extra_metadata=EXTRA)
    again = chunk_document(parsed, doc_id="doc-1", filename="guide.md", extra_metadata=EXTRA)
    other = chunk_document(parsed, doc_id="doc-2", filename="guide.md", extra_metadata=EXTRA)
    expected = [node_id("doc-1", i) for i in range(len(first))]
    assert [n.id_ for n in first] == [n.id_ for n in again] == expected
    assert not {n.id_ for n in first} & {n.id_ for n in other}
    assert len({n.id_ for n in first}) == len(first)


def test_chunks_fit_the_token_budget_with_their_metadata() -> None:
    prose = " ".join(f"Sentence number {i} explains one more detail of the policy." for i in range(400))
    parsed = parse_document(f"# Policy\n{prose}\n".encode(), "policy.md")
    nodes = chunk_document(parsed, doc_id="d", filename="policy.md", extra_metadata=EXTRA, chunk_tokens=128,
                           overlap=20)
    assert len(nodes) > 20
    assert all(count_tokens(n.get_content(MetadataMode.EMBED)) <= 128 for n in nodes)
    # Consecutive chunks overlap, so a fact on a boundary is whole in at least one of them.
    assert all(b.text[:30] in a.text for a, b in itertools.pairwise(nodes))


def test_japanese_text_is_chunked_at_sentence_ends() -> None:
    text = "\n\n".join([NEKO] * 12)
    parsed = parse_document(text.encode("cp932"), "neko.txt")
    nodes = chunk_document(parsed, doc_id="ja", filename="neko.txt", extra_metadata=EXTRA, chunk_tokens=128,
                           overlap=20)
    assert len(nodes) > 5
    sentences = re.findall(r"[^。！？]+[。！？」]+", NEKO)
    for node in nodes:
        assert count_tokens(node.get_content(MetadataMode.EMBED)) <= 128
        assert node.text.endswith(("。", "！", "？", "」"))
        for piece in re.findall(r"[^。！？]+[。！？」]+", node.text):
            assert piece.lstrip("\n") in sentences


def test_chunking_needs_no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TIKTOKEN_CACHE_DIR", raising=False)
    monkeypatch.setenv("HTTPS_PROXY", "http://127.0.0.1:9")
    parsed = parse_document(b"Short note. Another sentence.", "n.txt")
    assert [n.text for n in chunk_document(parsed, doc_id="n", filename="n.txt")] == [
        "Short note. Another sentence."
    ]


def test_three_hundred_page_pdf_parses_and_chunks_quickly() -> None:
    line = "Page {i} line {j}: the quick brown fox jumps over the lazy dog near the river."
    pages = ["\n".join(line.format(i=i, j=j) for j in range(30)) for i in range(300)]
    pdf = make_pdf(pages)
    started = time.perf_counter()
    parsed = parse_document(pdf, "big.pdf")
    nodes = chunk_document(parsed, doc_id="big", filename="big.pdf", extra_metadata=EXTRA)
    elapsed = time.perf_counter() - started
    assert parsed.pages == 300 and len(parsed.sections) == 300
    assert {n.metadata["page"] for n in nodes} == set(range(1, 301))
    assert elapsed < 6, f"{300 / elapsed:.0f} pages/s"
