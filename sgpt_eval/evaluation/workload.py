"""How much work a run is, estimated before any weights download (`sgpt-eval plan`).

Per run: the documents and judged queries (counted in the files when they are on disk, else
BEIR's published statistics), the tokens the model reads (a deterministic sample of documents
tokenized with the model's own tokenizer, extrapolated, each text capped at the model's length),
the forward FLOPs (2 x non-embedding parameters x tokens), the embeddings' size on disk, the
re-rank pairs and their tokens once each document's prompt is shared by the queries that re-rank
it, and the device-hours at a throughput. Only config and tokenizer files are ever downloaded;
a model or dataset that cannot be reached leaves its cells unknown with a note saying why.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..data import beir, catalogue
from ..data.catalogue import PublishedStats
from ..errors import SgptEvalError, Unavailable
from ..models.options import ModelOptions
from ..models.presets import find_preset
from .specs import RunSpec

SAMPLE_SIZE = 1000  # documents tokenized per corpus, spread evenly through the file
TOKENS_PER_WORD = 1.3  # GPT-2 BPE on English prose: used where no tokenizer or no text is at hand
# Re-ranking with BM25 runs BM25 itself (exact pairs and distinct documents) up to this corpus size.
BM25_EXACT_UP_TO = 100_000
# The throughput assumed when none is given: 1e14 FLOP/s sustained, about a third of an A100's
# fp16 tensor-core peak (312 TFLOP/s); per model, tokens/s = this / (2 x non-embedding parameters).
ASSUMED_FLOPS_PER_SECOND = 1e14
_BYTES = {"float32": 4, "float16": 2}


PUBLISHED_NOTE = (f"estimated from BEIR's published statistics (Thakur et al. 2021, Table 1; "
                  f"{TOKENS_PER_WORD} tokens per word)")


@dataclass(frozen=True)
class Workload:
    """One run's estimated work; None where it cannot be known (the notes say why)."""

    dataset: str
    method: str
    model: str | None
    documents: int | None = None
    queries: int | None = None
    document_tokens: int | None = None  # dense: the corpus; rerank: each distinct document's prompt once
    query_tokens: int | None = None  # dense: each query once; rerank: each pair's query
    non_embedding_parameters: int | None = None
    flops: float | None = None
    embedding_bytes: int | None = None
    pairs: int | None = None
    distinct_documents: int | None = None
    tokens_per_second: float | None = None
    device_hours: float | None = None
    notes: tuple[str, ...] = ()

    @property
    def tokens(self) -> int | None:
        known = [n for n in (self.document_tokens, self.query_tokens) if n is not None]
        return sum(known) if known else None

    def as_dict(self) -> dict:
        return {**dataclasses.asdict(self), "tokens": self.tokens, "notes": list(self.notes)}


@dataclass
class DatasetFacts:
    """What a run's size depends on in a dataset: counts, judged query texts and a document sample."""

    documents: int
    queries: list[str]  # the judged queries evaluated, in qrels order (empty: published statistics)
    query_ids: list[str]
    sample: list[str]  # document texts as the model sees them, spread evenly through the corpus
    published: PublishedStats | None = None  # set when the dataset is not on disk
    corpus: Path | None = None
    files: beir.DatasetFiles | None = None  # where it is on disk (a first stage given as a report must be of it)

    @property
    def query_count(self) -> int:
        return len(self.queries) if self.published is None else self.published.queries


@dataclass
class ModelFacts:
    """What a run's cost depends on in a model, read from its config and tokenizer files only."""

    name: str
    tokenizer: object | None = None
    parameters: int | None = None  # non-embedding
    dim: int | None = None
    max_length: int | None = None  # bi-encoder: tokens per text; cross-encoder: its context
    specb: bool = False
    folder: Path | None = None
    notes: list[str] = field(default_factory=list)


def count_lines(path: Path) -> int:
    """Lines that are not blank: a corpus's documents, read as bytes and never parsed."""
    with open(path, "rb") as handle:
        return sum(1 for raw in handle if raw.strip())


def sample_documents(path: Path, count: int, size: int = SAMPLE_SIZE) -> list[str]:
    """`document_text` of `size` documents spread evenly through the file (all of them when it
    holds no more): the same sample every time."""
    wanted = sorted({i * count // size for i in range(size)}) if count > size else list(range(count))
    texts, index, targets = [], 0, iter(wanted)
    target = next(targets, None)
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if target is None:
                break
            if not raw.strip():
                continue
            if index == target:
                try:
                    texts.append(beir.document_text(json.loads(raw)))
                except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, TypeError):
                    raise SgptEvalError(f"{path}:{number}: not a JSON object with _id and text; "
                                        "fix or re-download the file") from None
                target = next(targets, None)
            index += 1
    return texts


def dataset_facts(name: str, data_dir: Path, split: str | None, max_queries: int | None) -> DatasetFacts:
    """Counts from the files when the dataset is on disk (never downloaded here), else BEIR's
    published statistics; neither is Unavailable, saying so."""
    if not (data_dir / name / "corpus.jsonl").is_file():
        entry = catalogue.find(name)
        stats = entry.stats if entry else None
        if stats is None:
            raise Unavailable(f"dataset {name}: not in {data_dir} and BEIR publishes no statistics for it; "
                              "counts unknown (--data-dir to where it is)")
        if max_queries is not None:
            stats = dataclasses.replace(stats, queries=min(stats.queries, max_queries))
        return DatasetFacts(stats.documents, [], [], [], published=stats)
    files = beir.locate(name, data_dir, split)
    texts = beir.read_queries(files.queries)
    judged = [qid for qid in beir.read_qrels(files.qrels) if qid in texts][:max_queries]
    documents = count_lines(files.corpus)
    return DatasetFacts(documents, [texts[qid] for qid in judged], judged,
                        sample_documents(files.corpus, documents), corpus=files.corpus, files=files)


def non_embedding_parameters(config, trust_remote_code: bool = False) -> int:
    """Parameters of the model built on the meta device (no memory, no weights), less those of its
    embedding lookups (token, position, token-type), which cost no multiply-adds, and of a BERT
    pooler, which sentence embeddings never run."""
    import torch
    from transformers import AutoModel

    with torch.device("meta"):
        model = AutoModel.from_config(config, trust_remote_code=trust_remote_code)
    unused = [module for module in model.modules() if isinstance(module, torch.nn.Embedding)]
    pooler = getattr(model, "pooler", None)
    unused += list(pooler.modules()) if isinstance(pooler, torch.nn.Module) else []
    left_out = sum(p.numel() for module in unused for p in module.parameters(recurse=False))
    return sum(p.numel() for p in model.parameters()) - left_out


def model_facts(options: ModelOptions, kind: str, cache_dir: Path) -> ModelFacts:
    """Parameters, tokenizer, dimension and length of a model from its configs and tokenizer alone,
    resolved as a run resolves it (the hub gives no weights here); where its files cannot be had,
    the preset's figures (or none) and a note saying why."""
    # Imported here: they import torch, which building the command line must not.
    from ..models.resolution import DEFAULT_CONTEXT, DEFAULT_MAX_LENGTH, resolve_model

    preset = find_preset(Path(options.model).name) or find_preset(options.model)
    try:
        model = resolve_model(options, kind, cache_dir, weights=False)
    except Unavailable as exc:
        facts = ModelFacts(options.model, specb=kind == "bi" and (
            options.specb if options.specb is not None else bool(preset and preset.specb)))
        facts.parameters = preset.non_embedding_parameters if preset else None
        facts.max_length = options.max_length or (preset.max_length if preset and kind == "bi" else None) or (
            DEFAULT_MAX_LENGTH if kind == "bi" else DEFAULT_CONTEXT)
        source = "parameters from the preset" if facts.parameters else "FLOPs unknown"
        facts.notes.append(f"{exc}; {source}, tokens from words x {TOKENS_PER_WORD}")
        return facts
    from transformers import AutoConfig, AutoTokenizer

    folder = model.layout.transformer_dir if model.layout else model.source.path
    try:
        config = AutoConfig.from_pretrained(folder, trust_remote_code=model.trust_remote_code)
        tokenizer = AutoTokenizer.from_pretrained(folder, trust_remote_code=model.trust_remote_code)
    except (OSError, ValueError) as exc:
        raise SgptEvalError(f"model {options.model}: cannot read its config or tokenizer in {folder} "
                            f"({str(exc).splitlines()[0]}); check the model folder") from None
    return ModelFacts(options.model, tokenizer, non_embedding_parameters(config, model.trust_remote_code),
                      (model.layout.dimension if model.layout else None) or getattr(config, "hidden_size", None),
                      model.settings.max_length, kind == "bi" and model.settings.specb, folder)


class _Lengths:
    """Tokens a model reads per text: its tokenizer's count (or words x TOKENS_PER_WORD without
    one), plus what the model adds around the text (brackets, the prompt), capped at its length."""

    def __init__(self, model: ModelFacts, kind: str, template: str | None = None) -> None:
        self.model, self.kind = model, kind
        self.cap = model.max_length
        if kind == "bi":
            self.doc_extra = self.query_extra = 2 if model.specb else 0
            # Counted by the tokenizer in text, added here to words (BERT's [CLS] and [SEP]).
            self.special = model.tokenizer.num_special_tokens_to_add() if model.tokenizer is not None else 0
        else:
            head, tail = template.split("{doc}")
            self.doc_extra, self.query_extra, self.special = self._raw([head + tail])[0], 0, 0

    def _raw(self, texts: Sequence[str]) -> list[float]:
        if self.model.tokenizer is None:
            return [len(text.split()) * TOKENS_PER_WORD for text in texts]
        special = self.kind == "bi"  # the bi-encoder's tokenizer adds them; prompts are tokenized without
        encoded = self.model.tokenizer(list(texts), add_special_tokens=special, verbose=False)["input_ids"]
        return [float(len(ids)) for ids in encoded]

    def documents(self, texts: Sequence[str]) -> list[float]:
        return [min(n + self.doc_extra, self.cap) for n in self._raw(texts)]

    def queries(self, texts: Sequence[str]) -> list[float]:
        return [min(n + self.query_extra, self.cap) for n in self._raw(texts)]

    def from_words(self, words: float, side: str) -> float:
        extra = self.doc_extra if side == "doc" else self.query_extra
        return min(words * TOKENS_PER_WORD + self.special + extra, self.cap)


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 0.0


def _side_means(data: DatasetFacts, lengths: _Lengths) -> tuple[float, list[float]]:
    """Mean tokens per document, and tokens per judged query (published statistics: the mean, once)."""
    if data.published is not None:
        return (lengths.from_words(data.published.document_words, "doc"),
                [lengths.from_words(data.published.query_words, "query")])
    return _mean(lengths.documents(data.sample)), lengths.queries(data.queries)


def _dense(row: Workload, data: DatasetFacts, model: ModelFacts, store_dtype: str) -> Workload:
    doc_mean, per_query = _side_means(data, _Lengths(model, "bi"))
    size = data.documents * model.dim * _BYTES[store_dtype] if model.dim else None
    return dataclasses.replace(row, document_tokens=round(doc_mean * data.documents),
                               query_tokens=round(_mean(per_query) * data.query_count), embedding_bytes=size)


def _candidates(spec: RunSpec, data: DatasetFacts, depth: int, cache_dir: Path | None) -> dict[str, dict] | None:
    """The first stage's top-k per judged query when it is cheap to know exactly: a ranking file,
    or BM25 over a corpus of at most BM25_EXACT_UP_TO documents (its index cached as `run` caches it)."""
    from ..retrieval import ranking
    from .rankings import first_stage_file

    if spec.run.first_stage != "bm25":
        stage = first_stage_file(spec.run.first_stage, data.files.name, data.files.split)
        read = ranking.read_ranking(stage.path)
        return ranking.top_k({qid: read.get(qid, {}) for qid in data.query_ids}, depth)
    if data.corpus is None or data.documents > BM25_EXACT_UP_TO:
        return None
    from ..retrieval.bm25 import load_or_build
    from ..storage import sha256_file

    corpus = beir.read_corpus(data.corpus)
    index, _ = load_or_build(corpus, sha256_file(data.corpus), spec.run.bm25(), cache_dir)
    return index.search(dict(zip(data.query_ids, data.queries)), depth)


def _rerank(row: Workload, spec: RunSpec, data: DatasetFacts, model: ModelFacts, cache_dir: Path | None) -> Workload:
    from ..models.prompts import DEFAULT_TEMPLATE, resolve_template

    depth = spec.run.depth("rerank")
    template = resolve_template(spec.model.template or DEFAULT_TEMPLATE)
    doc_mean, per_query = _side_means(data, _Lengths(model, "cross", template))
    candidates = _candidates(spec, data, depth, cache_dir) if data.published is None else None
    if candidates is not None:
        pairs = sum(len(hits) for hits in candidates.values())
        distinct = len({doc for hits in candidates.values() for doc in hits})
        query_tokens = sum(len(candidates.get(qid, {})) * n for qid, n in zip(data.query_ids, per_query))
        note = f"{distinct:,} distinct documents among the {pairs:,} pairs (exact: the first stage was run)"
    else:
        pairs = data.query_count * depth
        distinct = min(pairs, data.documents)
        query_tokens = pairs * _mean(per_query)
        note = f"{distinct:,} distinct documents is an upper bound (queries x top-k, at most the corpus)"
    return dataclasses.replace(row, pairs=pairs, distinct_documents=distinct, document_tokens=round(doc_mean * distinct),
                               query_tokens=round(query_tokens), notes=(*row.notes, note))


class Planner:
    """Workloads of many runs, each dataset and model read once."""

    def __init__(self, data_dir: Path, cache_dir: Path, throughput: float | None = None,
                 use_cache: bool = True) -> None:
        if throughput is not None and not throughput > 0:
            raise SgptEvalError(f"--throughput {throughput}: must be a positive number of tokens per second")
        self.data_dir, self.cache_dir, self.throughput, self.use_cache = data_dir, cache_dir, throughput, use_cache
        self._datasets: dict[tuple, DatasetFacts | Unavailable] = {}
        self._models: dict[tuple, ModelFacts] = {}

    def dataset(self, spec: RunSpec) -> DatasetFacts:
        key = (spec.dataset, spec.run.split, spec.run.max_queries)
        if key not in self._datasets:
            try:
                self._datasets[key] = dataset_facts(spec.dataset, self.data_dir, *key[1:])
            except Unavailable as exc:
                self._datasets[key] = exc
        found = self._datasets[key]
        if isinstance(found, Unavailable):
            raise found
        return found

    def model(self, options: ModelOptions, kind: str) -> ModelFacts:
        if (options, kind) not in self._models:
            self._models[(options, kind)] = model_facts(options, kind, self.cache_dir)
        return self._models[(options, kind)]

    def estimate(self, spec: RunSpec) -> Workload:
        row = Workload(spec.dataset, spec.method, spec.model.model if spec.model else None)
        kind = {"dense": "bi", "rerank": "cross"}.get(spec.method)
        model = self.model(spec.model, kind) if kind else None  # bad model options fail before any counting
        try:
            data = self.dataset(spec)
        except Unavailable as exc:
            return dataclasses.replace(row, notes=(str(exc),))
        notes = (PUBLISHED_NOTE,) if data.published else ()
        row = dataclasses.replace(row, documents=data.documents, queries=data.query_count,
                                  notes=(*notes, *(model.notes if model else ())))
        if model is None:
            return row  # BM25 and fusion: no model to run
        store_dtype = getattr(spec.run, "store_dtype", "float32")
        row = (_dense(row, data, model, store_dtype) if kind == "bi"
               else _rerank(row, spec, data, model, self.cache_dir if self.use_cache else None))
        return self._costed(row, model.parameters)

    def _costed(self, row: Workload, parameters: int | None) -> Workload:
        """FLOPs (2 x non-embedding parameters x tokens, forward only) and device-hours."""
        flops = 2.0 * parameters * row.tokens if parameters else None
        speed = self.throughput or (ASSUMED_FLOPS_PER_SECOND / (2.0 * parameters) if parameters else None)
        hours = row.tokens / speed / 3600 if speed else None
        return dataclasses.replace(row, non_embedding_parameters=parameters, flops=flops,
                                   tokens_per_second=speed, device_hours=hours)

    def throughput_line(self) -> str:
        if self.throughput:
            return f"device-hours at {self.throughput:,.0f} tokens/s (--throughput)"
        return (f"device-hours at an assumed {ASSUMED_FLOPS_PER_SECOND:.0e} FLOP/s sustained (about a third of an "
                "A100's fp16 peak), i.e. tokens/s = that / (2 x non-embedding parameters); "
                "--throughput TOKENS_PER_SECOND to use a measured rate")


def plan(specs: Sequence[RunSpec], planner: Planner) -> list[Workload]:
    return [planner.estimate(spec) for spec in specs]
