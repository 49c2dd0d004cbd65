"""BEIR's datasets, one entry each: what download, planning, the paper's tables and the MTEB export
know about a dataset, written once; and how a `--dataset` value names one (a name, or a folder).

CQADupStack is run as its 12 forums: each forum (`cqadupstack/android`) has an entry of its own in
the family `cqadupstack`, whose entry holds what BEIR publishes for the 12 together (the one zip,
the statistics, the table row). A name that is not here (a folder of one's own in BEIR layout) is
evaluated on its test split and belongs to the family its name starts with (`mine/part` to `mine`).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

# Which averages of the SGPT paper's BEIR tables an entry enters.
TABLES = ("beir-18", "ce-11")


@dataclass(frozen=True)
class PublishedStats:
    documents: int
    queries: int  # in the split BEIR evaluates (dev for MS MARCO, test elsewhere)
    query_words: float  # average length in words
    document_words: float


@dataclass(frozen=True)
class Entry:
    """One BEIR dataset (or CQADupStack forum) as the harness knows it."""

    name: str  # as `--dataset` gives it, and the folder it is read from
    label: str  # its row in the paper's tables (a forum's is never shown: it counts towards CQADupStack's)
    split: str  # the split BEIR evaluates it on
    family: str  # the dataset whose zip it comes in and whose table row it counts towards
    md5: str | None  # of the family's official zip, from BEIR's README; None: BEIR may not redistribute it
    stats: PublishedStats | None  # BEIR's published statistics; None where BEIR gives none for it alone
    mteb_task: str | None  # MTEB's retrieval task of the same data; None where MTEB has none
    tables: tuple[str, ...] = ()  # the averages of the paper's tables it enters (TABLES)


def _beir(name: str, label: str, md5: str | None, stats: PublishedStats | None, mteb_task: str | None,
          tables: tuple[str, ...] = ("beir-18",), split: str = "test") -> Entry:
    return Entry(name, label, split, name, md5, stats, mteb_task, tables)


_BOTH = ("beir-18", "ce-11")  # in the BEIR average and in the re-ranking one over 11 datasets
# In the BEIR paper's order, MS MARCO last (the tables' row order).
# md5: the BEIR README's dataset table. Statistics: Thakur et al. 2021, "BEIR: A Heterogeneous
# Benchmark for Zero-shot Evaluation of Information Retrieval Models", Table 1: corpus size, test
# queries, average query and document length in words.
# ce-11: the SGPT paper's second re-ranking average, the 11 datasets on which Muennighoff/sgpt's
# other/sgpt_utils.ipynb (cell sgptce_openai_selection) gives SGPT-CE GPT-J-6.1B per dataset, the
# selection its OpenAI Search comparison was run on.
_DATASETS = (
    _beir("trec-covid", "TREC-COVID", "ce62140cb23feb9becf6270d0d1fe6d1",
          PublishedStats(171_332, 50, 10.60, 160.77), "TRECCOVID", _BOTH),
    _beir("bioasq", "BioASQ", None, None, None),
    _beir("nfcorpus", "NFCorpus", "a89dba18a62ef92f7d323ec890a0d38d",
          PublishedStats(3_633, 323, 3.30, 232.26), "NFCorpus", _BOTH),
    _beir("nq", "NQ", "d4d3d2e48787a744b6f6e691ff534307",
          PublishedStats(2_681_468, 3_452, 9.16, 78.88), "NQ"),
    _beir("hotpotqa", "HotpotQA", "f412724f78b0d91183a0e86805e16114",
          PublishedStats(5_233_329, 7_405, 17.61, 46.30), "HotpotQA", _BOTH),
    _beir("fiqa", "FiQA-2018", "17918ed23cd04fb15047f73e6c3bd9d9",
          PublishedStats(57_638, 648, 10.77, 132.32), "FiQA2018", _BOTH),
    _beir("signal1m", "Signal-1M (RT)", None, None, None),
    _beir("trec-news", "TREC-NEWS", None, None, None),
    _beir("robust04", "Robust04", None, None, None),
    _beir("arguana", "ArguAna", "8ad3e3c2a5867cdced806d6503f29b99",
          PublishedStats(8_674, 1_406, 192.98, 166.80), "ArguAna", _BOTH),
    _beir("webis-touche2020", "Touché-2020", "46f650ba5a527fc69e0a6521c5a23563",
          PublishedStats(382_545, 49, 6.55, 292.37), "Touche2020", _BOTH),
    # The 12 forums together; MTEB has a task per forum (below).
    _beir("cqadupstack", "CQADupStack", "4e41456d7df8ee7760a7f866133bda78",
          PublishedStats(457_199, 13_145, 8.59, 129.09), None),
    _beir("quora", "Quora", "18fb154900ba42a600f84b839c173167",
          PublishedStats(522_931, 10_000, 9.53, 11.44), "QuoraRetrieval", _BOTH),
    _beir("dbpedia-entity", "DBPedia", "c2a39eb420a3164af735795df012ac2c",
          PublishedStats(4_635_922, 400, 5.39, 49.68), "DBPedia", _BOTH),
    _beir("scidocs", "SCIDOCS", "38121350fc3a4d2f48850f6aff52e4a9",
          PublishedStats(25_657, 1_000, 9.38, 176.19), "SCIDOCS"),
    _beir("fever", "FEVER", "5a818580227bfb4b35bb6fa46d9b6c03",
          PublishedStats(5_416_568, 6_666, 8.13, 84.76), "FEVER", _BOTH),
    _beir("climate-fever", "Climate-FEVER", "8b66f0a9126c521bae2bde127b4dc99d",
          PublishedStats(5_416_593, 1_535, 20.13, 84.76), "ClimateFEVER", _BOTH),
    _beir("scifact", "SciFact", "5f7d1de60b170fc8027bb7898e2efca1",
          PublishedStats(5_183, 300, 12.37, 213.63), "SciFact", _BOTH),
    # Evaluated on dev (its test qrels are TREC DL); in-domain for the msmarco models, so in no average.
    _beir("msmarco", "MS MARCO (dev)", "444067daf65d982533ea17ebd59501e4",
          PublishedStats(8_841_823, 6_980, 5.96, 55.98), "MSMARCO", tables=(), split="dev"),
)

# The 12 StackExchange forums that BEIR's CQADupStack is averaged over.
CQADUPSTACK_FORUMS = (
    "android", "english", "gaming", "gis", "mathematica", "physics",
    "programmers", "stats", "tex", "unix", "webmasters", "wordpress",
)


def _forum(parent: Entry, forum: str) -> Entry:
    """A forum comes in its parent's zip and counts towards its row; BEIR publishes no statistics for it alone."""
    return dataclasses.replace(parent, name=f"{parent.name}/{forum}", label=f"{parent.label} ({forum})",
                               stats=None, mteb_task=f"CQADupstack{forum.title()}Retrieval", tables=())


_CQADUPSTACK = next(entry for entry in _DATASETS if entry.name == "cqadupstack")
# Every entry by name: the datasets, then the forums.
CATALOGUE: dict[str, Entry] = {entry.name: entry for entry in (
    *_DATASETS, *(_forum(_CQADUPSTACK, forum) for forum in CQADUPSTACK_FORUMS))}

# The rows of the paper's BEIR tables, in order: BEIR's 18 datasets, then MS MARCO (dev).
DATASET_ORDER = tuple(entry.name for entry in _DATASETS)
# BEIR's 18 datasets without MS MARCO: the BEIR average is over these.
BEIR_18 = tuple(entry.name for entry in _DATASETS if "beir-18" in entry.tables)
# The SGPT paper's 11-dataset re-ranking average (see ce-11 above).
CE_11 = tuple(entry.name for entry in _DATASETS if "ce-11" in entry.tables)


def find(name: str) -> Entry | None:
    """The entry of a dataset or forum; None for a name BEIR does not have."""
    return CATALOGUE.get(name)


def family(name: str) -> str:
    """The dataset whose zip `name` comes in and whose table row it counts towards:
    `cqadupstack` for `cqadupstack/android`, the name itself for every other BEIR dataset."""
    entry = find(name)
    return entry.family if entry else name.split("/", 1)[0]


def default_split(name: str) -> str:
    """The split BEIR evaluates on: dev for MS MARCO (its test qrels are TREC DL), test elsewhere."""
    entry = find(family(name))
    return entry.split if entry else "test"


def expand(name: str) -> list[str]:
    """CQADupStack is 12 datasets, one per forum; every other name is itself."""
    members = [entry.name for entry in CATALOGUE.values() if entry.family == name and entry.name != name]
    return members or [name]


def label(name: str) -> str:
    """A dataset's row label in the paper's tables; a dataset not BEIR's goes by its name."""
    entry = find(name)
    return entry.label if entry else name


def folder_given(given: str) -> Path | None:
    """The folder `--dataset` names when it is given as a path (absolute, or starting with `.` or
    `~`); None for a dataset's name, which is looked up under the data folder."""
    return Path(given).expanduser() if given.startswith((".", "~")) or Path(given).is_absolute() else None


def dataset_name(given: str) -> str:
    """The name a dataset's runs and reports go by: as given, or, for a folder given as a path, the
    folder's name (`cqadupstack/<forum>` for a forum), so that its reports land under the output
    folder with those of the same dataset named."""
    folder = folder_given(given)
    if folder is None:
        return given
    folder = folder.resolve()
    forum = expand(folder.parent.name) != [folder.parent.name]  # the parent is a family of forums
    return f"{folder.parent.name}/{folder.name}" if forum else folder.name
