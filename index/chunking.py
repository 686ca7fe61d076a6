"""Parsed documents → TextNodes: sentence-aware chunks (English and Japanese) with small metadata.

Everything here is synchronous and CPU-bound: the bot runs it in a worker process (index/worker.py).
"""

from __future__ import annotations

import functools
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import MetadataMode, NodeRelationship, RelatedNodeInfo, TextNode

from bot.tokens import encode, ensure_tiktoken_offline, get_encoding

if TYPE_CHECKING:
    from index.ingest import ParsedDocument

DEFAULT_CHUNK_TOKENS = 400
DEFAULT_OVERLAP = 60
MIN_CHUNK_TOKENS = 64
# What the embedding sees besides the chunk: the file name and the heading path help retrieval; ids don't.
EMBED_METADATA_KEYS = frozenset({"filename", "section"})
LLM_METADATA_KEYS = frozenset({"filename", "page", "section", "language"})
_NODE_NAMESPACE = uuid.UUID("5b0f6a52-8a3e-4c55-9a0e-3f1f4d7c2b11")

# Sentence ends in Japanese (and !? after them) that punkt does not know; closing brackets stay attached.
_SENTENCE_END = re.compile(r"(?<=[。．！？!?])(?![。．！？!?」』）)\]】〕”’])")
SECONDARY_CHUNKING_REGEX = r"[^,.;、，。．？！?!]+[,.;、，。．？！?!]?|[,.;、，。．？！?!]"


def split_sentences(text: str) -> list[str]:
    """Sentences of English or Japanese text, keeping every character (joined, they give back the text)."""
    punkt = _punkt()
    sentences: list[str] = []
    for part in _SENTENCE_END.split(text):
        if not part:
            continue
        sentences.extend(punkt(part) if re.search(r"[.?!]\s", part) else [part])
    return sentences


@functools.cache
def _punkt() -> Callable[[str], list[str]]:
    from llama_index.core.node_parser.text.utils import split_by_sentence_tokenizer

    return split_by_sentence_tokenizer()


@functools.lru_cache(maxsize=32)
def _sentence_splitter(chunk_tokens: int, overlap: int) -> SentenceSplitter:
    return SentenceSplitter(
        chunk_size=chunk_tokens,
        chunk_overlap=overlap,
        tokenizer=encode,
        paragraph_separator="\n\n",
        chunking_tokenizer_fn=split_sentences,
        secondary_chunking_regex=SECONDARY_CHUNKING_REGEX,
    )


def _token_count(text: str) -> int:
    return len(encode(text))


def _split_long_line(line: str, budget: int) -> list[str]:
    tokens = encode(line)
    return [get_encoding().decode(tokens[i : i + budget]) for i in range(0, len(tokens), budget)]


def _pack_lines(
    units: list[tuple[int, str]], budget: int, overlap: int, joiner: str
) -> list[tuple[int, int, str]]:
    """Pack (number, text) units into chunks of at most `budget` tokens, preferring to cut after a blank
    unit in the chunk's second half and repeating up to `overlap` tokens of trailing units."""
    chunks: list[tuple[int, int, str]] = []
    current: list[tuple[int, str, int]] = []
    size = 0

    def emit(upto: int) -> None:
        emitted = current[:upto]
        while emitted and not emitted[-1][1].strip():
            emitted.pop()
        while emitted and not emitted[0][1].strip():
            emitted.pop(0)
        if emitted:
            chunks.append((emitted[0][0], emitted[-1][0], joiner.join(text for _, text, _ in emitted)))

    for number, text in units:
        cost = _token_count(text) + 1
        if cost > budget:
            emit(len(current))
            current, size = [], 0
            chunks.extend((number, number, piece) for piece in _split_long_line(text, budget))
            continue
        if current and size + cost > budget:
            cut = len(current)
            for index in range(len(current) - 1, len(current) // 2 - 1, -1):
                if not current[index][1].strip():
                    cut = index + 1
                    break
            emit(cut)
            carried = current[cut:]
            tail: list[tuple[int, str, int]] = []
            tail_size = 0
            for unit in reversed(current[:cut]):
                if tail_size + unit[2] > overlap:
                    break
                tail.insert(0, unit)
                tail_size += unit[2]
            while tail and not tail[0][1].strip():
                tail.pop(0)
            current = tail + carried
            size = sum(unit[2] for unit in current)
            if size + cost > budget:
                current = carried
                size = sum(unit[2] for unit in current)
        current.append((number, text, cost))
        size += cost
    emit(len(current))
    return chunks


def node_id(doc_id: str, index: int) -> str:
    """The stable node id of chunk `index` of document `doc_id` (a UUID string, accepted by every store)."""
    return str(uuid.uuid5(_NODE_NAMESPACE, f"{doc_id}:{index}"))


def chunk_document(
    parsed: ParsedDocument,
    *,
    doc_id: str,
    filename: str,
    extra_metadata: Mapping[str, object] | None = None,
    chunk_tokens: int = DEFAULT_CHUNK_TOKENS,
    overlap: int = DEFAULT_OVERLAP,
) -> list[TextNode]:
    """Split parsed sections into TextNodes with deterministic ids and metadata (doc_id, filename, page or
    section, language, extras); only file name and section reach the embedding text."""
    ensure_tiktoken_offline()
    base: dict[str, object] = {"doc_id": doc_id, "filename": filename, "kind": parsed.kind}
    base.update({key: value for key, value in (extra_metadata or {}).items() if value is not None})
    nodes: list[TextNode] = []
    for section in parsed.sections:
        location = {k: v for k, v in section.metadata.items() if k in ("page", "section", "language")}
        header = f"filename: {filename}\nsection: {location.get('section', '')}\n\n"
        budget = max(MIN_CHUNK_TOKENS, chunk_tokens - _token_count(header))
        step_overlap = min(overlap, budget // 4)
        for text, extra in _chunk_section(parsed.kind, section.text, budget, step_overlap):
            nodes.append(text_node(doc_id, node_id(doc_id, len(nodes)), text, {**base, **location, **extra}))
    return nodes


def text_node(doc_id: str, id_: str, text: str, metadata: dict[str, Any]) -> TextNode:
    """One chunk of document `doc_id` as a TextNode: only file name and section reach the embedding text,
    only file name, page, section and language the model's."""
    node = TextNode(
        id_=id_,
        text=text,
        metadata=metadata,
        excluded_embed_metadata_keys=[k for k in metadata if k not in EMBED_METADATA_KEYS],
        excluded_llm_metadata_keys=[k for k in metadata if k not in LLM_METADATA_KEYS],
    )
    node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=doc_id)
    return node


def embedding_plan(nodes: list[TextNode], embed_tokens: int | None) -> tuple[list[str], list[int]]:
    """The texts to embed (windows of chunks too long for the model) and the chunk each belongs to."""
    texts: list[str] = []
    owner: list[int] = []
    for index, node in enumerate(nodes):
        for text in embedding_inputs(node, embed_tokens):
            texts.append(text)
            owner.append(index)
    return texts, owner


def embedding_inputs(node: TextNode, max_tokens: int | None) -> list[str]:
    """What to embed for a chunk: its text under its file name and section, cut into windows of at most
    `max_tokens` when the embedding model would not read it whole."""
    whole = node.get_content(metadata_mode=MetadataMode.EMBED)
    if max_tokens is None or _token_count(whole) <= max_tokens:
        return [whole]
    metadata = node.get_metadata_str(MetadataMode.EMBED)
    budget = max(MIN_CHUNK_TOKENS, max_tokens - _token_count(metadata) - 2)
    parts = _sentence_splitter(budget, budget // 8).split_text(node.get_content())
    template = node.text_template
    return [template.format(metadata_str=metadata, content=part).strip() for part in parts if part.strip()]


def _chunk_section(kind: str, text: str, budget: int, overlap: int) -> Iterator[tuple[str, dict[str, str]]]:
    if kind == "code":
        lines = list(enumerate(text.split("\n"), start=1))
        for first, last, chunk in _pack_lines(lines, budget, overlap, "\n"):
            yield chunk, {"section": f"lines {first}-{last}"}
    elif kind == "csv":
        records = []
        for record in text.split("\n\n"):
            found = re.match(r"Row (\d+)\n", record)
            records.append((int(found.group(1)) if found else 0, record))
        # Each record names its columns, so any group of them still carries the header; no overlap needed.
        for first, last, chunk in _pack_lines(records, budget, 0, "\n\n"):
            yield chunk, {"section": f"rows {first}-{last}" if first != last else f"row {first}"}
    else:
        splitter = _sentence_splitter(budget, overlap)
        for chunk in splitter.split_text(text):
            if chunk.strip():
                yield chunk, {}
