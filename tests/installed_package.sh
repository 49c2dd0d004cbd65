#!/usr/bin/env bash
# The package as users install it (`make check-wheel`): build the sdist and, from it, the wheel; install
# the wheel into a fresh virtual environment outside the checkout; run eval, bm25, useb, plan, table and
# export from a folder where the source tree cannot be imported, so that a file the package reads from
# the checkout instead of from itself fails here.
#
# Environment: BUILD_PYTHON (has `build`), PYTHON (makes the virtual environment), TORCH (installed
# first), SGPT_EVAL_BEIR_DIR (holds scifact), SGPT_EVAL_USEB_DIR (holds twitterpara), and LOCK: a
# requirements list of one's own to install instead of requirements.lock (whose hashes are required).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
build_python=${BUILD_PYTHON:-$repo/.venv/bin/python}
beir=$(realpath "${SGPT_EVAL_BEIR_DIR:?the folder of BEIR datasets, with scifact}")
useb=$(realpath "${SGPT_EVAL_USEB_DIR:?the USEB data-eval folder, with twitterpara}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
started=$SECONDS

step() { echo "== $* ($((SECONDS - started)) s)"; }
fail() { echo "installed package: $*" >&2; exit 1; }
holds() { grep -qF -- "$2" "$1" || fail "$1 lacks '$2'"; }

step "sdist, then the wheel from it"
"$build_python" -m build --outdir "$work/dist" "$repo" >"$work/build.log" 2>&1 || { tail -20 "$work/build.log"; fail "build failed"; }
sdist=$(ls "$work"/dist/*.tar.gz) && wheel=$(ls "$work"/dist/*.whl)
tar tzf "$sdist" >"$work/sdist.txt" && "$build_python" -m zipfile -l "$wheel" >"$work/wheel.txt"
for file in pyproject.toml README.md sgpt_eval/cli/__init__.py; do holds "$work/sdist.txt" "/$file"; done
for file in beir_ndcg10.csv useb.csv; do
    holds "$work/sdist.txt" "/sgpt_eval/reports/published/$file"
    holds "$work/wheel.txt" "sgpt_eval/reports/published/$file"
done
for file in index.html site.css site.js; do
    holds "$work/sdist.txt" "/sgpt_eval/site/assets/$file"
    holds "$work/wheel.txt" "sgpt_eval/site/assets/$file"
done

step "a fresh virtual environment: the locked dependencies, torch, the wheel"
"${PYTHON:-python3}" -m venv "$work/venv"
pip=("$work/venv/bin/python" -m pip install -q --disable-pip-version-check --no-compile)
if [ -n "${LOCK:-}" ]; then
    "${pip[@]}" --no-deps -r "$LOCK"
else
    "${pip[@]}" --require-hashes --no-deps -r "$repo/requirements.lock"
fi
"${pip[@]}" --no-warn-conflicts "${TORCH:-torch}"  # its dependencies are there already, at the locked versions
"${pip[@]}" --no-deps "$wheel"

step "the commands, run from outside the checkout"
cd "$work"
export SGPT_EVAL_CACHE=$work/cache HF_HUB_OFFLINE=1 PYTHONNOUSERSITE=1
unset PYTHONPATH SGPT_EVAL_BEIR_DIR SGPT_EVAL_USEB_DIR
bin=$work/venv/bin
package=$("$bin/python" -c "import sgpt_eval; print(sgpt_eval.__file__)")
[[ $package == "$work/venv/"* ]] || fail "sgpt_eval comes from $package, not from the installed wheel"

# Slices of real data, so that each command runs in seconds: the first 100 SciFact documents with the
# queries judged on them, and the first pairs of each TwitterPara part.
mkdir -p data/scifact-100/qrels useb/twitterpara
head -n 100 "$beir/scifact/corpus.jsonl" >data/scifact-100/corpus.jsonl
cp "$beir/scifact/queries.jsonl" data/scifact-100/
"$bin/python" - "$beir/scifact/qrels/test.tsv" data/scifact-100 <<'EOF'
import json, sys
from pathlib import Path
qrels, folder = Path(sys.argv[1]), Path(sys.argv[2])
docs = {json.loads(line)["_id"] for line in (folder / "corpus.jsonl").open()}
header, *rows = qrels.read_text().splitlines()
(folder / "qrels" / "test.tsv").write_text("\n".join([header, *(row for row in rows if row.split("\t")[1] in docs)]) + "\n")
EOF
head -n 400 "$useb/twitterpara/Twitter_URL_Corpus_test.txt" >useb/twitterpara/Twitter_URL_Corpus_test.txt
head -n 200 "$useb/twitterpara/test.data" >useb/twitterpara/test.data
head -n 200 "$useb/twitterpara/test.label" >useb/twitterpara/test.label

step "eval"
"$bin/sgpt-eval" eval --dataset scifact-100 --model all-MiniLM-L6-v2 --data-dir data --output-dir results >eval.txt
holds eval.txt $'scifact-100\tall-MiniLM-L6-v2\tNDCG@10='
step "bm25"
"$bin/sgpt-eval" bm25 --dataset scifact --data-dir "$beir" --output-dir results >bm25.txt  # MTEB has a task for it
holds bm25.txt $'scifact\tbm25s\tNDCG@10='
step "useb"
"$bin/sgpt-eval" useb --model all-MiniLM-L6-v2 --datasets twitterpara --data-dir useb --output-dir results >useb.txt
holds useb.txt $'twitterpara\tall-MiniLM-L6-v2\tap_twitter_twitterurl='
step "plan"
"$bin/sgpt-eval" plan --dataset scifact-100 --method dense --model all-MiniLM-L6-v2 --data-dir data >plan.txt
holds plan.txt "scifact-100"
step "table"  # the published numbers the tables set ours against are the package's own
"$bin/sgpt-eval" table --paper-table be --results-dir results >table-be.txt
holds table-be.txt "published: BM25 (Elasticsearch, BEIR paper)"
holds table-be.txt "| scifact-100 |"
"$bin/sgpt-eval" table --paper-table useb --results-dir results >table-useb.txt
holds table-useb.txt "| SGPT-125M-weightedmean-nli-bitfit |"
holds table-useb.txt "| all-MiniLM-L6-v2 |"
step "site"  # its page, style and script are package data
"$bin/sgpt-eval" site --results-dir results --output site >site.txt
holds site.txt "site: open file://"
holds site/site.js "window.SITE_DATA"
holds site/data.js "scifact-100"
step "export"
"$bin/sgpt-eval" export --format mteb --results-dir results --output-dir mteb >export.txt
holds export.txt "export: 1 MTEB task result(s) in mteb"
step "the installed package works"
