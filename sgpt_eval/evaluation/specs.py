"""What one evaluation is: a dataset, a method, the model's options and the run's options.

The command line and TOML configs both take their names from these dataclasses (and from
`ModelOptions`), so each setting is declared once. A setting that does not apply to a method
is an error naming it, not silently ignored.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..checks import at_least_one, typed_fields
from ..data.catalogue import expand
from ..errors import SgptEvalError
from ..executors import EXECUTORS, check_executor
from ..models.options import BI_ENCODER_ONLY, ModelOptions, option
from ..retrieval.bm25_settings import BM25Settings
from ..retrieval.embedding_cache import DEFAULT_DTYPE, DEFAULT_SHARD_SIZE, STORE_DTYPES
from ..retrieval.fusion import FUSIONS, NORMALIZATIONS, parse_weights

METHODS = ("dense", "bm25", "rerank")  # the methods that search a corpus (`run --method`)
FUSION = "fusion"  # fuses finished rankings: a config's run or `sgpt-eval fuse`
ALL_METHODS = (*METHODS, FUSION)
DEFAULT_TOP_K = {"dense": 1000, "bm25": 1000, "rerank": 100, FUSION: 1000}
# The model options each method takes (BM25 and fusion have no model).
MODEL_FIELDS = {
    FUSION: (),
    "dense": tuple(name for name in (f.name for f in dataclasses.fields(ModelOptions))
                   if name not in ("template", "aggregate")),
    "bm25": (),
    "rerank": tuple(name for name in (f.name for f in dataclasses.fields(ModelOptions)) if name not in ("pooling", "specb", *BI_ENCODER_ONLY)),
}


def _for(*methods: str) -> dict:
    return {"methods": methods}


@dataclass(frozen=True)
class RunOptions:
    """What a user asks of a run (as `ModelOptions` is of a model); those marked `identity=False` change
    how it runs, never its numbers. The stages resolve the others into the settings an identity holds."""

    split: str | None = field(default=None, metadata=option("qrels split (default: test; dev for msmarco)",
                                                            **_for(*ALL_METHODS)))
    top_k: int | None = field(default=None, metadata=option(
        "documents per query (default: 1000; rerank: 100)", **_for(*ALL_METHODS)))
    score_function: str = field(default="cos_sim", metadata=option(
        "vector similarity", choices=("cos_sim", "dot"), **_for("dense")))
    first_stage: str = field(default="bm25", metadata=option(
        "what to re-rank: bm25, a ranking file (TREC run, or SGPT JSON {qid: {docid: score}}), or a report "
        "(the ranking beside it)",
        aliases=("--first-stage-run",), **_for("rerank")))
    k1: float = field(default=BM25Settings.k1, metadata=option("BM25 term-frequency saturation", **_for("bm25", "rerank")))
    b: float = field(default=BM25Settings.b, metadata=option("BM25 length normalisation", **_for("bm25", "rerank")))
    max_queries: int | None = field(default=None, metadata=option(
        "evaluate only the first N judged queries (qrels file order); recorded in the report", **_for(*ALL_METHODS)))
    use_cache: bool = field(default=True, metadata=option(
        "neither read nor write the embedding, BM25 index and score caches", flag="--no-cache", identity=False,
        **_for(*METHODS)))
    skip_unavailable: bool = field(default=False, metadata=option(
        "a run whose dataset or model cannot be had (not on disk, no network) is one warning line and the "
        "others go ahead (default: the batch stops)", identity=False, **_for(*METHODS)))
    shard_size: int = field(default=DEFAULT_SHARD_SIZE, metadata=option(
        "documents per cached embedding shard", identity=False, **_for("dense")))
    store_dtype: str = field(default=DEFAULT_DTYPE, metadata=option(
        "dtype the document vectors are stored and searched in: float16 halves disk and memory, changes scores slightly",
        choices=STORE_DTYPES, **_for("dense")))
    faiss_gpu: bool | None = field(default=None, metadata=option(
        "search on GPU (default: when torch sees one)", identity=False, **_for("dense")))
    executor: str = field(default="local", metadata=option(
        "where the model runs: local (this process) or ray (replicas on a Ray cluster, one per GPU or CPU worker)",
        choices=EXECUTORS, identity=False, **_for("dense", "rerank")))
    ray_address: str | None = field(default=None, metadata=option(
        "--executor ray: the cluster to join (auto, HOST:PORT or ray://HOST:10001; default: start Ray here)",
        identity=False, **_for("dense", "rerank")))
    # Fusion only: in identities through FusionRetriever.settings(), so other methods' identities never see them.
    inputs: tuple[str, ...] = field(default=(), metadata=option(
        "reports (their ranking beside them) or ranking files to fuse, two or more", **_for(FUSION)))
    fusion: str = field(default="rrf", metadata=option(
        "rrf: reciprocal rank fusion; weighted: weighted sum of scores normalised per query",
        choices=FUSIONS, flag="--method", **_for(FUSION)))
    rrf_k: int | None = field(default=None, metadata=option("rrf: the k of 1 / (k + rank) (default: 60)", **_for(FUSION)))
    weights: str | None = field(default=None, metadata=option(
        "weighted: one weight per input, e.g. 0.3,0.7 (default: equal)", **_for(FUSION)))
    normalization: str | None = field(default=None, metadata=option(
        "weighted: per-query score normalisation (default: minmax)", choices=NORMALIZATIONS, **_for(FUSION)))

    def __post_init__(self) -> None:
        if isinstance(self.inputs, (list, tuple)):  # a TOML list, or paths from Python
            object.__setattr__(self, "inputs", tuple(str(p) if isinstance(p, Path) else p for p in self.inputs))
        if isinstance(self.weights, (list, tuple)):  # a TOML list: the same weights as "0.3,0.7"
            object.__setattr__(self, "weights", ",".join(map(str, self.weights)))
        typed_fields(self)
        at_least_one({"top_k": self.top_k, "max_queries": self.max_queries, "shard_size": self.shard_size,
                      "rrf_k": self.rrf_k})
        self._check_fusion()
        check_executor(self.executor, self.ray_address)

    def _check_fusion(self) -> None:
        """Fusion options that are unknown, or meant for the other fusion method, are refused by their flag."""
        other = {"rrf": {"--weights": self.weights, "--normalization": self.normalization},
                 "weighted": {"--rrf-k": self.rrf_k}}[self.fusion]
        for flag, value in other.items():
            if value is not None:
                raise SgptEvalError(f"{flag} {value}: not a setting of --method {self.fusion}; leave it out")
        self.fusion_weights()

    def fusion_weights(self) -> tuple[float, ...] | None:
        return parse_weights(self.weights, len(self.inputs) if self.inputs else None)

    def depth(self, method: str) -> int:
        return self.top_k if self.top_k is not None else DEFAULT_TOP_K[method]

    def bm25(self) -> BM25Settings:
        return BM25Settings(k1=self.k1, b=self.b)


def run_fields(method: str) -> tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(RunOptions) if method in f.metadata["methods"])


@dataclass(frozen=True)
class RunSpec:
    dataset: str
    method: str
    model: ModelOptions | None
    run: RunOptions = RunOptions()

    @classmethod
    def create(cls, dataset: str, method: str, values: dict, where: str) -> RunSpec:
        """A spec from flat options (TOML keys or flag names); unknown or inapplicable names
        are an error naming `where`."""
        if method not in ALL_METHODS:
            raise SgptEvalError(f"{where}: method '{method}' is not one of {', '.join(ALL_METHODS)}")
        model_fields, option_fields = MODEL_FIELDS[method], run_fields(method)
        unknown = sorted(set(values) - set(model_fields) - set(option_fields))
        if unknown:
            raise SgptEvalError(f"{where}: {', '.join(unknown)} not options of {method} "
                                f"(those are: {', '.join(sorted((*model_fields, *option_fields)))})")
        model_values = {name: values[name] for name in model_fields if name in values}
        if model_fields and "model" not in model_values:
            raise SgptEvalError(f"{where}: a {method} run needs a model")
        try:
            model = ModelOptions(**model_values) if model_fields else None
            run = RunOptions(**{name: values[name] for name in option_fields if name in values})
        except (TypeError, SgptEvalError) as exc:
            raise SgptEvalError(f"{where}: {exc}") from None
        return cls(dataset, method, model, run)

    def overriding(self, values: dict) -> RunSpec:
        """This spec with the command line's run options applied where its method takes them, so that
        `run --config F --no-cache --executor ray` reaches every run it applies to."""
        taken = {name: value for name, value in values.items() if name in run_fields(self.method)}
        return dataclasses.replace(self, run=dataclasses.replace(self.run, **taken))


def _read_toml(path: Path) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SgptEvalError(f"{path}: cannot read the run configuration ({exc})") from None


def read_config(path: Path) -> list[RunSpec]:
    """`datasets = [...]` and `[[runs]]` tables, each a `method` plus that method's options
    (and optionally its own `datasets`); every key and value checked, naming the file and the run."""
    config = _read_toml(path)
    unknown = sorted(set(config) - set(CONFIG_KEYS))
    if unknown:
        raise SgptEvalError(f"{path}: {', '.join(unknown)}: not keys of a run configuration "
                            f"(those are: {', '.join(CONFIG_KEYS)})")
    runs = config.get("runs", [])
    if not isinstance(runs, list) or not all(isinstance(run, dict) for run in runs):
        raise SgptEvalError(f"{path}: runs = {runs!r}: expected [[runs]] tables")
    everywhere = _dataset_names(config.get("datasets"), f"{path}: datasets")
    specs = []
    for number, run in enumerate(runs, start=1):
        where = f"{path}, runs #{number}"
        run = dict(run)
        datasets = _dataset_names(run.pop("datasets", None), f"{where}: datasets") or everywhere
        if not datasets:
            raise SgptEvalError(f"{path}: runs #{number} has no datasets (set `datasets` at the top or in the run)")
        method = run.pop("method", "dense")
        if not isinstance(method, str):
            raise SgptEvalError(f"{where}: method = {method!r}: expected one of {', '.join(ALL_METHODS)}")
        specs += [RunSpec.create(name, method, run, where) for requested in datasets for name in expand(requested)]
    if not specs:
        raise SgptEvalError(f"{path}: no [[runs]] to do")
    return specs


CONFIG_KEYS = ("datasets", "runs", "useb")


def _dataset_names(value, where: str) -> list[str] | None:
    """A `datasets` value: a list of names (a lone string would be read letter by letter), or None."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(name, str) for name in value):
        raise SgptEvalError(f"{where} = {value!r}: expected a list of dataset names, e.g. [\"scifact\"]")
    return value


def read_useb_models(path: Path) -> list[ModelOptions]:
    """A config's `[useb]` table (`sgpt-eval paper`; `run` ignores it): `models = [...]`, each evaluated
    on USEB with the table's other keys as its model options (e.g. `dtype = "float16"`)."""
    table = dict(_read_toml(path).get("useb", {}))
    models = table.pop("models", [])
    where = f"{path}, [useb]"
    if not isinstance(models, list) or not all(isinstance(name, str) for name in models):
        raise SgptEvalError(f"{where}: models must be a list of model names")
    allowed = set(MODEL_FIELDS["dense"]) - {"model"}
    unknown = sorted(set(table) - allowed)
    if unknown:
        raise SgptEvalError(f"{where}: {', '.join(unknown)} not options of a USEB run "
                            f"(those are: models, {', '.join(sorted(allowed))})")
    try:
        return [ModelOptions(model=name, **table) for name in models]
    except (TypeError, SgptEvalError) as exc:
        raise SgptEvalError(f"{where}: {exc}") from None
