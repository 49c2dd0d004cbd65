"""The dataset catalogue: every BEIR dataset complete and consistent, and the name functions."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from sgpt_eval.data import catalogue
from sgpt_eval.data.catalogue import BEIR_18, CATALOGUE, CE_11, CQADUPSTACK_FORUMS, DATASET_ORDER

DATA = Path(catalogue.__file__).parent
# BEIR's README: no public download for these four.
NOT_REDISTRIBUTED = {"bioasq", "signal1m", "trec-news", "robust04"}
FORUMS = [f"cqadupstack/{forum}" for forum in CQADUPSTACK_FORUMS]


def test_the_table_rows_are_beirs_18_then_ms_marco():
    assert len(BEIR_18) == 18 and len(set(BEIR_18)) == 18
    assert DATASET_ORDER == (*BEIR_18, "msmarco")
    assert set(DATASET_ORDER) | set(FORUMS) == set(CATALOGUE)
    assert len(CE_11) == 11 and list(CE_11) == [name for name in BEIR_18 if name in CE_11]


@pytest.mark.parametrize("name", DATASET_ORDER)
def test_every_beir_dataset_is_complete(name):
    entry = CATALOGUE[name]
    assert entry.name == entry.family == name
    assert entry.label and entry.split == ("dev" if name == "msmarco" else "test")
    assert set(entry.tables) <= set(catalogue.TABLES)
    assert ("beir-18" in entry.tables) == (name != "msmarco")
    if name in NOT_REDISTRIBUTED:
        assert entry.md5 is None
        return
    assert re.fullmatch("[0-9a-f]{32}", entry.md5)
    assert entry.stats.documents > 0 and entry.stats.queries > 0
    assert entry.stats.query_words > 0 and entry.stats.document_words > 0
    # MTEB has a task per CQADupStack forum, not one for the 12 together (see the forums' test).
    assert (entry.mteb_task is None) == (name == "cqadupstack")


def test_labels_checksums_and_tasks_are_each_used_once():
    entries = [CATALOGUE[name] for name in DATASET_ORDER]
    for values in ([e.label for e in entries], [e.md5 for e in entries if e.md5],
                   [e.mteb_task for e in CATALOGUE.values() if e.mteb_task]):
        assert len(values) == len(set(values))


def test_each_forum_comes_in_cqadupstacks_zip_and_has_its_mteb_task():
    family = CATALOGUE["cqadupstack"]
    assert len(FORUMS) == 12
    for name in FORUMS:
        forum = CATALOGUE[name]
        assert (forum.family, forum.md5, forum.split) == ("cqadupstack", family.md5, "test")
        assert forum.stats is None and forum.tables == ()  # counted in CQADupStack's row and statistics
        assert re.fullmatch(r"CQADupstack[A-Z][a-z]+Retrieval", forum.mteb_task)


def test_mteb_tasks_are_mtebs_with_the_same_split():
    mteb = pytest.importorskip("mteb")
    for entry in CATALOGUE.values():
        if entry.mteb_task:
            assert mteb.get_task(entry.mteb_task).metadata.eval_splits == [entry.split], entry.name


def test_family_default_split_expand_and_label():
    assert catalogue.family("cqadupstack/android") == "cqadupstack"
    assert catalogue.family("scifact") == "scifact"
    assert catalogue.family("mine/part") == "mine"  # a dataset of one's own, named like a forum
    assert catalogue.default_split("msmarco") == "dev"
    assert catalogue.default_split("scifact") == "test"
    assert catalogue.default_split("cqadupstack/tex") == "test"
    assert catalogue.default_split("mine") == "test"
    assert catalogue.expand("cqadupstack") == FORUMS and FORUMS[0] == "cqadupstack/android"
    assert catalogue.expand("nq") == ["nq"]
    assert catalogue.expand("cqadupstack/gis") == ["cqadupstack/gis"]
    assert catalogue.expand("mine") == ["mine"]
    assert catalogue.label("webis-touche2020") == "Touché-2020"
    assert catalogue.label("msmarco") == "MS MARCO (dev)"
    assert catalogue.label("mine") == "mine"
    assert catalogue.find("mine") is None


def test_a_dataset_given_as_a_folder_goes_by_its_folders_name(tmp_path):
    assert catalogue.folder_given("scifact") is None and catalogue.folder_given("cqadupstack/tex") is None
    assert catalogue.folder_given(str(tmp_path / "mine")) == tmp_path / "mine"
    assert catalogue.dataset_name("scifact") == "scifact"
    assert catalogue.dataset_name(str(tmp_path / "mine")) == "mine"
    assert catalogue.dataset_name(str(tmp_path / "cqadupstack" / "tex")) == "cqadupstack/tex"
    assert catalogue.dataset_name(str(tmp_path / "elsewhere" / "tex")) == "tex"


def _imports(path: Path) -> set[str]:
    """The package-relative modules a file imports (`..checks`, `.catalogue`)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {"." * node.level + (node.module or "") for node in ast.walk(tree)
            if isinstance(node, ast.ImportFrom) and node.level}


def test_data_imports_nothing_above_the_ground_level():
    ground = {"..checks", "..errors", "..folders", "..progress", "..storage", "..timing"}
    for path in DATA.glob("*.py"):
        above = {name for name in _imports(path) if name.startswith("..") and name not in ground}
        assert not above, f"{path.name} imports {above}"
    assert _imports(DATA / "catalogue.py") == set()  # every layer may read it
    assert ".beir" not in _imports(DATA / "download.py")  # beir reads through download, not back
