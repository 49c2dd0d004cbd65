"""`sgpt-eval cache list | prune`: what the cache folder holds, and freeing what no dataset needs."""

from __future__ import annotations

import argparse
from pathlib import Path

from typing import TYPE_CHECKING

from .. import folders
from .options import add_common

if TYPE_CHECKING:  # listing and pruning import the cache modules (and bm25s) only when run
    from ..caches import Entry

_PRUNE = """Remove document embeddings and BM25 indexes whose corpus (the sha256 of its corpus.jsonl)
is none of those under the data folders, and those with no readable record of their corpus (written
by an older version). Query embeddings and re-rank scores are keyed by texts, not by a corpus, and
serve any dataset with the same texts: they are kept unless --all. Models are never touched."""


def add_commands(commands: argparse._SubParsersAction) -> None:
    cache = commands.add_parser("cache", help="list or prune the cached embeddings, BM25 indexes and re-rank scores")
    actions = cache.add_subparsers(dest="action", required=True, metavar="ACTION", help="list or prune")

    listing = actions.add_parser("list", help="each cache entry with its size and what it belongs to")
    add_common(listing)
    listing.set_defaults(handler=_list)

    prune = actions.add_parser("prune", help="remove caches of corpora no longer in the data folders",
                               description=_PRUNE)
    prune.add_argument("--data-dir", action="append", default=[],
                       help=f"a folder of BEIR datasets whose caches to keep (repeatable; default: "
                            f"${folders.BEIR_DIR_ENV} or ./datasets)")
    prune.add_argument("--dry-run", action="store_true", help="print what would be removed, remove nothing")
    prune.add_argument("--all", dest="everything", action="store_true",
                       help="also remove query embeddings and re-rank scores")
    add_common(prune)
    prune.set_defaults(handler=_prune)


def _list(args: argparse.Namespace, cache_dir: Path) -> None:
    from .. import caches

    found = caches.entries(cache_dir)
    for entry in found:
        print(_line(entry))
    print(f"total\t{caches.human_size(sum(entry.size for entry in found))}\t{len(found)} entries in {cache_dir}")


def _prune(args: argparse.Namespace, cache_dir: Path) -> None:
    from .. import caches

    corpora = caches.corpus_hashes([folders.beir_dir(d) for d in args.data_dir] or [folders.beir_dir()],
                                   given=bool(args.data_dir))
    found = caches.entries(cache_dir)
    going = caches.stale(found, corpora, args.everything)
    for entry in going:
        if not args.dry_run:
            caches.remove(entry)
        print(f"{'would remove' if args.dry_run else 'removed'}\t{_line(entry)}")
    freed = caches.human_size(sum(entry.size for entry in going))
    print(f"{'would free' if args.dry_run else 'freed'}\t{freed}\t{len(going)} of {len(found)} entries in {cache_dir}")


def _line(entry: Entry) -> str:
    from ..caches import human_size

    return f"{entry.kind}\t{human_size(entry.size)}\t{entry.about}\t{entry.path}"
