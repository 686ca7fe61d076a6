"""How large a chunk is, and how much of it the embedding model reads at once.

An embedding model silently drops what follows its input limit (all-MiniLM-L6-v2 reads 256 word pieces),
so a chunk longer than that would be indexed by its first part only. Chunks keep the size that retrieves
best (CHUNK_TOKENS), and a chunk longer than the model reads is embedded in windows that each fit
(index.chunking.embedding_inputs), so no part of it is lost. Measured with bench/quality.py on
all-MiniLM-L6-v2, hit@5: chunks cut to fit the limit (196 tokens) 0.79; 400-token chunks embedded by
their first 256 word pieces 0.79; 400-token chunks embedded in windows 0.86, 512 tokens 0.88.

Sizes are in cl100k tokens; a model's own tokenizer makes up to 1.3 times as many from the same text
(90th percentile over the bench corpus; median 1.10 for English, 1.04 for Japanese, in BERT word pieces).
"""

from __future__ import annotations

# Input limits in the model's own tokens, by a part of the model's name (first match wins, lower case).
EMBED_INPUT_LIMITS: tuple[tuple[str, int], ...] = (
    ("text-embedding-3", 8191),
    ("text-embedding-ada-002", 8191),
    ("paraphrase-multilingual", 128),
    ("all-minilm", 256),
    ("all-mpnet", 384),
    ("multi-qa-minilm", 512),
    ("multilingual-e5", 512),
    ("bge-m3", 8192),
    ("bge-", 512),
    ("e5-", 512),
    ("gte-", 512),
    ("mxbai-embed", 512),
    ("snowflake-arctic-embed", 512),
    ("nomic-embed-text", 2048),
    ("jina-embeddings-v3", 8192),
    ("embed-multilingual", 512),
    ("embed-english", 512),
)
# Most open embedding models read 512 tokens; assuming so for an unknown one wastes little if it reads more.
UNKNOWN_INPUT_LIMIT = 512
MODEL_TOKENS_PER_TOKEN = 1.3
# Bigger chunks blur what a passage is about, and the answer prompt holds five of them (600: hit@5 0.90,
# hit@1 0.52 against 0.91 and 0.61 at 512).
DEFAULT_CHUNK_TOKENS = 512
OVERLAP_SHARE = 0.15


def embed_input_limit(model: str, configured: int | None = None) -> int:
    """Tokens the embedding model reads per input: the configured value, or the known one for its name."""
    if configured:
        return configured
    name = model.lower().rsplit("/", 1)[-1]
    return next((limit for key, limit in EMBED_INPUT_LIMITS if key in name), UNKNOWN_INPUT_LIMIT)


def embed_tokens_for(model: str, max_tokens: int | None = None) -> int:
    """The longest input, in cl100k tokens, that the embedding model reads whole."""
    return int(embed_input_limit(model, max_tokens) / MODEL_TOKENS_PER_TOKEN)


def chunk_tokens_for(configured: int | None = None) -> int:
    """Chunk size in cl100k tokens, file name and section header included."""
    return configured or DEFAULT_CHUNK_TOKENS


def overlap_for(chunk_tokens: int) -> int:
    """Tokens repeated between neighbouring chunks, so a sentence cut at a boundary is whole in one."""
    return int(chunk_tokens * OVERLAP_SHARE)
