"""What a resolved model runs with, as far as it changes a number: the settings a report's
identity records and the embedding and score caches are keyed by. Plain values, read from a
model's configs by `resolution` before any weights load."""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass, field

from ..data.catalogue import family
from ..errors import SgptEvalError
from .options import AGGREGATES

TEXT, INSTRUCTION = "{text}", "{instruction}"
DEFAULT_AGGREGATE = AGGREGATES[0]


@dataclass(frozen=True)
class EncoderSettings:
    """Everything that changes the vectors; part of the embedding cache key and the report."""

    model: str
    revision: str
    pooling: str
    specb: bool
    max_length: int
    dtype: str
    normalize: bool
    dense_layers: int
    # Settings added after the first reports (`ADDED_SETTINGS`): left out of `as_dict` at their
    # defaults, so that those reports keep their identity.
    query_template: str | None = None
    doc_template: str | None = None
    instruction: str | None = None  # the one for this run's dataset, where a template asks for it
    append_eos: bool = False
    exclude_instruction: bool = False
    adapter: str | None = None
    adapter_revision: str | None = None
    bidirectional: bool = False
    # The preset's instructions by dataset, from which `for_dataset` picks one (only that one is identity).
    instructions: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def as_dict(self) -> dict:
        """The settings that identify the encoder: those in `ADDED_SETTINGS` only where they differ
        from their defaults, and not the preset's table of instructions (the one used is recorded)."""
        values = asdict(self)
        del values["instructions"]
        defaults = {spec.name: spec.default for spec in dataclasses.fields(self)}
        for name in ADDED_SETTINGS:
            if values[name] == defaults[name]:
                del values[name]
        return values

    def template(self, kind: str) -> tuple[str, str]:
        """The text before and after {text} for this kind, with the instruction put in."""
        template = (self.query_template if kind == "query" else self.doc_template) or TEXT
        if INSTRUCTION in template:
            if self.instruction is None:
                raise SgptEvalError(f"model {self.model}: its {kind} template {template!r} needs an instruction; "
                                    "give one with --instruction TEXT")
            template = template.replace(INSTRUCTION, self.instruction)
        head, tail = template.split(TEXT)
        return head, tail

    def for_dataset(self, dataset: str) -> EncoderSettings:
        """These settings with the instruction for `dataset` (an --instruction given wins), where a
        template asks for one; refused now, before any weights load, when there is none."""
        if not any(INSTRUCTION in (t or "") for t in (self.query_template, self.doc_template)):
            return self
        known = dict(self.instructions)
        instruction = self.instruction or known.get(dataset) or known.get(family(dataset))
        if instruction is None:
            raise SgptEvalError(f"model {self.model} has no instruction for dataset {dataset}; "
                                "give one with --instruction TEXT")
        return dataclasses.replace(self, instruction=instruction)


# Named, not taken by position: reordering the fields cannot change an identity.
ADDED_SETTINGS = ("query_template", "doc_template", "instruction", "append_eos", "exclude_instruction", "adapter",
                  "adapter_revision", "bidirectional")


@dataclass(frozen=True)
class CrossEncoderSettings:
    """Everything that changes the scores; the key of the score cache and part of the report."""

    model: str
    revision: str
    template: str
    max_length: int
    dtype: str
    aggregate: str = DEFAULT_AGGREGATE

    def as_dict(self) -> dict:
        """The settings, less those added since reports were first written while they keep their
        default: a run as before keeps its report identity and its score cache. A half-precision
        model projects onto the vocabulary in float32 since that came in, which moves its scores:
        said here, so that those runs get an identity and a score cache entry of their own."""
        values = asdict(self)
        if self.aggregate == DEFAULT_AGGREGATE:
            del values["aggregate"]
        if self.dtype != "float32":
            values["vocabulary_projection"] = "float32"
        return values
