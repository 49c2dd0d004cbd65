"""Atomic writes and content keys: a failed write leaves the old file (or nothing) and no
temporary file; keys are sha256 of canonical JSON."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import stat

import numpy as np
import pytest

from sgpt_eval import storage


def _leftovers(folder) -> list[str]:
    return sorted(path.name for path in folder.iterdir() if path.name.startswith("."))


def test_atomic_open_replaces_the_file_only_when_the_block_succeeds(tmp_path):
    path = tmp_path / "sub" / "report.json"
    with storage.atomic_open(path) as handle:
        handle.write("first ünïcode")
    assert path.read_text(encoding="utf-8") == "first ünïcode"
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask  # shared as a plain file is, not private

    with pytest.raises(RuntimeError), storage.atomic_open(path) as handle:
        handle.write("half")
        raise RuntimeError("stopped")
    assert path.read_text(encoding="utf-8") == "first ünïcode" and _leftovers(path.parent) == []


def test_a_write_error_without_a_file_name_is_given_the_target(tmp_path):
    path = tmp_path / "scores.npy"
    with pytest.raises(OSError) as raised, storage.atomic_open(path, "wb"):
        raise OSError(errno.ENOSPC, "No space left on device")
    assert (raised.value.errno, raised.value.filename) == (errno.ENOSPC, str(path))
    assert not path.exists() and _leftovers(tmp_path) == []


def test_atomic_folder_appears_whole_or_not_at_all(tmp_path):
    target = tmp_path / "index"
    with pytest.raises(RuntimeError), storage.atomic_folder(target) as work:
        (work / "part").write_text("1")
        raise RuntimeError("stopped")
    assert not target.exists() and _leftovers(tmp_path) == []

    with storage.atomic_folder(target) as work:
        (work / "part").write_text("1")
    assert [path.name for path in target.iterdir()] == ["part"]

    with storage.atomic_folder(target) as work:  # another process finished the same folder first
        (work / "other").write_text("2")
    assert [path.name for path in target.iterdir()] == ["part"] and _leftovers(tmp_path) == []


def test_json_and_arrays_round_trip(tmp_path):
    storage.write_json(tmp_path / "a.json", {"b": 1, "a": [1.5, None]})
    text = (tmp_path / "a.json").read_text()
    assert text.endswith("}\n") and list(json.loads(text)) == ["b", "a"]  # the payload's order is kept

    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    storage.save_array(tmp_path / "v.npy", array)
    np.testing.assert_array_equal(np.load(tmp_path / "v.npy", allow_pickle=False), array)
    with pytest.raises(ValueError):
        storage.save_array(tmp_path / "o.npy", np.array([{"a": 1}], dtype=object))  # would need pickle
    assert not (tmp_path / "o.npy").exists() and _leftovers(tmp_path) == []


def test_hashes_and_digests(tmp_path):
    data = os.urandom(5000)
    (tmp_path / "blob").write_bytes(data)
    assert storage.sha256_file(tmp_path / "blob", chunk_size=64) == hashlib.sha256(data).hexdigest()
    assert storage.sha256_text("é") == hashlib.sha256("é".encode()).hexdigest()

    key = storage.digest({"b": [1, 2], "a": "é"})
    assert key == hashlib.sha256('{"a":"é","b":[1,2]}'.encode()).hexdigest()[:16]
    assert key == storage.digest({"a": "é", "b": [1, 2]})  # key order does not matter
    assert key != storage.digest({"a": "é", "b": [2, 1]}) and len(storage.digest("x", 8)) == 8
