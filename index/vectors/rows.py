"""Chunks on their way in and out: nodes validated and serialised into rows, rows turned back into nodes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from llama_index.core.schema import BaseNode, MetadataMode, TextNode
from llama_index.core.vector_stores.utils import metadata_dict_to_node, node_to_metadata_dict

from index.vectors.keyword import keyword_text


@dataclass(frozen=True, slots=True)
class Row:
    """A chunk ready to be written."""

    node_id: str
    doc_id: str
    shard: str
    scope: str
    text: str
    metadata: str
    keywords: str


@dataclass(slots=True)
class Change:
    """What one committed transaction did to the chunks, to mirror in the cache."""

    removed: list[tuple[int, str, str]]
    added_ids: np.ndarray
    added_rows: list[Row]
    added_vectors: np.ndarray
    versions: dict[str, int]


def rows_of(nodes: Sequence[BaseNode]) -> list[Row]:
    """Nodes as rows, refusing any without text, a shard and a scope, or with a repeated node id."""
    rows: list[Row] = []
    for node in nodes:
        if not isinstance(node, TextNode):
            raise ValueError(f"node {node.node_id}: only text nodes can be indexed")
        shard, scope = shard_of(node.metadata), node.metadata.get("scope")
        if not shard or not isinstance(scope, str) or not scope:
            raise ValueError(f"node {node.node_id}: metadata needs 'shard' (or 'guild') and 'scope'")
        doc_id = node.ref_doc_id or str(node.metadata.get("doc_id") or node.node_id)
        metadata = json.dumps(node_to_metadata_dict(node, remove_text=True), ensure_ascii=False)
        keywords = keyword_text(node.get_content(metadata_mode=MetadataMode.EMBED))
        rows.append(Row(node.node_id, doc_id, shard, scope, node.get_content(), metadata, keywords))
    if len({row.node_id for row in rows}) != len(rows):
        raise ValueError("the same node id appears twice in one write")
    return rows


def unit_vectors(nodes: Sequence[BaseNode], dim: int | None) -> np.ndarray:
    """The nodes' embeddings scaled to unit length; refuses missing, mixed-size, zero or non-finite ones."""
    if not nodes:
        return np.zeros((0, dim or 0), dtype=np.float32)
    sizes = {len(node.embedding) if node.embedding is not None else 0 for node in nodes}
    if 0 in sizes or len(sizes) != 1:
        raise ValueError("every node needs an embedding, all of the same length")
    (size,) = sizes
    if dim is not None and size != dim:
        raise ValueError(f"embeddings have {size} dimensions, the index {dim}: re-index after a change")
    matrix = np.asarray([node.embedding for node in nodes], dtype=np.float32)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    if not np.all(np.isfinite(matrix)) or not np.all(norms > 0):
        raise ValueError("an embedding is zero or not finite")
    return matrix / norms


def shard_of(metadata: dict[str, Any]) -> str | None:
    """A node's shard from its metadata ("shard", or "guild" for older nodes); None if it has none."""
    shard = metadata.get("shard")
    if shard is None and metadata.get("guild") is not None:
        shard = metadata["guild"]
    return str(shard) if shard not in (None, "") else None


def node_of(text: str, metadata: str) -> TextNode:
    """The TextNode a stored row stands for."""
    node = metadata_dict_to_node(json.loads(metadata), text=text)
    assert isinstance(node, TextNode)  # only text nodes are written
    return node
