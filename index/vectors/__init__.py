"""The embedded vector store behind the index: chunks in one SQLite file, vectors cached in numpy per shard.

Every chunk (text, node JSON, unit-length float32 embedding, shard, scope key) and its keyword-index
entry live in `DATA_DIR/index/chunks.sqlite3`, written in single transactions, so a crash leaves a
document's old version or its new one, never half. For speed each shard's vectors are also held in
memory, one numpy matrix per scope key, loaded lazily on the shard's first query and kept in step on
every write; a per-shard version in the database tells when another process (or an older object on the
same file) changed a shard, and the cache is then reloaded.

A shard is a guild id, or "dm:<user id>" for a DM; a scope key is "server:<guild id>",
"channel:<channel id>" or "user:<user id>". Every query names one shard and the scope keys it may read,
and nothing outside them is ever returned.

Modules: store (VectorStore), sql (schema and statements), matrix (cached vectors and cosine search),
rows (nodes to rows and back), keyword (the FTS5 text and queries, CJK as bigrams), filters (scope).
"""

from index.vectors.filters import scope_filters, scope_of_filters
from index.vectors.keyword import MAX_QUERY_TERMS, keyword_query, keyword_text
from index.vectors.sql import DB_NAME, SCHEMA_VERSION, VectorStoreError
from index.vectors.store import VectorStore

__all__ = [
    "DB_NAME",
    "MAX_QUERY_TERMS",
    "SCHEMA_VERSION",
    "VectorStore",
    "VectorStoreError",
    "keyword_query",
    "keyword_text",
    "scope_filters",
    "scope_of_filters",
]
