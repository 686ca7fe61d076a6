"""The embeddings endpoint: deterministic hashed bags of words."""

from __future__ import annotations

from typing import Any

from .errors import _int_param, _invalid, _missing
from .helpers import count_tokens, embed_features, encode_embedding_base64, text_features
from .recorded import RecordedRequest
from .transport import _HandlerBase


def _embedding_inputs(raw: Any) -> tuple[list[list[str]], int]:
    """Turn an embeddings `input` into feature lists and a token count."""
    if isinstance(raw, str):
        texts: list[Any] = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(x, int) for x in raw):
        texts = [raw]
    elif isinstance(raw, list) and raw and all(isinstance(x, str | list) for x in raw):
        texts = raw
    else:
        raise _invalid("input", raw, "Expected a string, a list of strings or a list of token arrays.")
    features: list[list[str]] = []
    tokens = 0
    for item in texts:
        if isinstance(item, str):
            features.append(text_features(item))
            tokens += count_tokens(item)
        elif all(isinstance(t, int) for t in item):
            features.append([f"#{t}" for t in item])
            tokens += len(item)
        else:
            raise _invalid("input", raw, "Token arrays must hold integers.")
    return features, tokens


class _EmbeddingsMixin(_HandlerBase):
    """Serves `POST /embeddings`."""

    def _embeddings(self, request: RecordedRequest) -> None:
        fake = self.fake
        body = self._json_body(request)
        model = self._require_model(body.get("model"), "embedding", "embeddings")
        if "input" not in body:
            raise _missing("input")
        feature_lists, prompt_tokens = _embedding_inputs(body["input"])
        dimensions = _int_param(body.get("dimensions"), "dimensions", fake.embedding_dimensions, 1, 65536)
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            raise _invalid("encoding_format", encoding, "Expected 'float' or 'base64'.")
        data = []
        for index, features in enumerate(feature_lists):
            vector = embed_features(features, dimensions)
            value: Any = encode_embedding_base64(vector) if encoding == "base64" else vector
            data.append({"object": "embedding", "index": index, "embedding": value})
        self._send_json(
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
            }
        )
