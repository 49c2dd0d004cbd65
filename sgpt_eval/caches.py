"""What the caches hold, and pruning what no dataset needs any more (`sgpt-eval cache`).

Under the cache folder: `embeddings/<model>/<kind>-<key>/` (shards and `meta.json`), `bm25/<key>/`
(bm25s' files and `meta.json`) and `rerank_scores/<model>-<key>.jsonl` (with its settings in the
`.json` beside it). Each entry is described from the record its writer left.

Document embeddings and BM25 indexes are built from one corpus file, named by its sha256: `prune`
removes those whose corpus is none of the `corpus.jsonl` files under the data folders given, and
those with no readable record (written by an older version; rebuilt when next needed). Query
embeddings and re-rank scores are keyed by texts, not by a corpus, and serve any dataset with the
same texts: `prune` keeps them unless asked to remove everything keyed by texts too.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .errors import SgptEvalError
from .folders import BEIR_DIR_ENV
from .models import score_cache
from .models.prompts import TEMPLATES
from .retrieval import bm25, embedding_cache
from .storage import digest, sha256_file

log = logging.getLogger(__name__)

UNRECORDED = "no readable record of what it belongs to"


@dataclass(frozen=True)
class Entry:
    kind: str  # "embeddings", "bm25" or "rerank-scores"
    path: Path
    files: tuple[Path, ...]  # what removing it deletes (a folder, or a file and its settings)
    size: int  # bytes
    about: str  # what it belongs to, for people
    corpus: str | None  # sha256 of the corpus file it was built from, when built from one and recorded
    by_texts: bool  # keyed by texts rather than by a corpus: pruned only when asked for everything


def entries(cache_dir: Path) -> list[Entry]:
    """Every cached embedding folder, BM25 index and re-rank score file, in that order."""
    return [*_embeddings(cache_dir), *_indexes(cache_dir), *_scores(cache_dir)]


def corpus_hashes(data_dirs: Iterable[Path], given: bool = True) -> set[str]:
    """The sha256 of every `corpus.jsonl` under the data folders (each must hold at least one);
    `given`: the folders were named with --data-dir, not the default one."""
    hashes = set()
    for data_dir in data_dirs:
        where = f"--data-dir {data_dir}" if given else f"the default data folder {data_dir} (${BEIR_DIR_ENV}, else ./datasets)"
        remedy = f"{'give' if given else 'pass --data-dir with'} the BEIR data folder(s) whose datasets' caches to keep"
        if not data_dir.is_dir():
            raise SgptEvalError(f"{where}: not a folder; {remedy}")
        files = sorted(data_dir.rglob("corpus.jsonl"))
        if not files:
            raise SgptEvalError(f"{where}: no corpus.jsonl under it, so every embedding and BM25 cache would go; "
                                f"nothing pruned. {remedy[0].upper()}{remedy[1:]}")
        for path in files:
            log.info("hashing %s", path)
            hashes.add(sha256_file(path))
    return hashes


def stale(found: Iterable[Entry], corpora: set[str], everything: bool = False) -> list[Entry]:
    """The entries `prune` removes: built from a corpus not in `corpora` (or not recorded), and,
    with `everything`, those keyed by texts too."""
    return [entry for entry in found if (everything if entry.by_texts else entry.corpus not in corpora)]


def remove(entry: Entry) -> None:
    """Delete the entry's files; a model's embeddings folder goes too once it is empty."""
    for path in entry.files:
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    parent = entry.path.parent
    if entry.kind == "embeddings" and parent.is_dir() and not any(parent.iterdir()):
        parent.rmdir()


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024:
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"


def _embeddings(cache_dir: Path) -> Iterator[Entry]:
    for folder in _visible(cache_dir / embedding_cache.SUBFOLDER, "*/*"):
        meta = _read_json(folder / embedding_cache.META)
        kind = meta.get("kind") or folder.name.split("-")[0]
        encoder, content = meta.get("encoder"), meta.get("content")
        if isinstance(encoder, dict) and isinstance(content, str):
            finished = len(list(folder.glob("shard-*.json")))  # a shard's record is written after it
            count, shard_size = meta.get("count"), meta.get("shard_size")
            total = -(-count // shard_size) if isinstance(count, int) and isinstance(shard_size, int) else "?"
            of = "corpus" if kind == "doc" else "texts"
            about = f"{encoder.get('model')} {kind} {_settings(encoder)} {of} {content[:12]} shards {finished}/{total}"
        else:
            about, content = f"{kind}: {UNRECORDED}", None
        yield Entry("embeddings", folder, (folder,), _size(folder), about, content if kind == "doc" else None,
                    by_texts=kind != "doc")


def _indexes(cache_dir: Path) -> Iterator[Entry]:
    for folder in _visible(cache_dir / bm25.SUBFOLDER, "*"):
        key = _read_json(folder / bm25.META)
        corpus, settings = key.get("corpus"), key.get("settings")
        if isinstance(corpus, str) and isinstance(settings, dict):
            about = f"bm25s {key.get('bm25s')} {_settings(settings)} corpus {corpus[:12]}"
        else:
            about, corpus = UNRECORDED, None
        yield Entry("bm25", folder, (folder,), _size(folder), about, corpus, by_texts=False)


def _scores(cache_dir: Path) -> Iterator[Entry]:
    for path in _visible(cache_dir / score_cache.SUBFOLDER, "*.jsonl"):
        record = path.with_suffix(".json")
        settings = _read_json(record).get("settings")
        pairs = path.read_bytes().count(b"\n")
        about = (f"{settings.get('model')} {_settings(settings)} {pairs} pairs" if isinstance(settings, dict)
                 else f"{pairs} pairs; {UNRECORDED}")
        files = (path, record) if record.is_file() else (path,)
        yield Entry("rerank-scores", path, files, sum(f.stat().st_size for f in files), about, None, by_texts=True)


def _visible(folder: Path, pattern: str) -> list[Path]:
    """Entries matching `pattern`, without the hidden temporary files and folders of writes under way."""
    return sorted(path for path in folder.glob(pattern) if not path.name.startswith("."))


def _settings(values: dict) -> str:
    """`name=value` for each setting but the model; a prompt template by its name, long text by its digest."""
    names = {text: name for name, text in TEMPLATES.items()}
    shown = []
    for name, value in values.items():
        if name == "model":
            continue
        if isinstance(value, str) and value in names:
            value = names[value]
        elif isinstance(value, str) and len(value) > 16:
            value = value[:12] if name == "revision" else f"#{digest(value, 8)}"
        shown.append(f"{name}={value}")
    return " ".join(shown)


def _read_json(path: Path) -> dict:
    """A record's JSON object; empty when missing or unreadable (the entry is then unrecorded)."""
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return payload if isinstance(payload, dict) else {}


def _size(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
