"""Model management: download a model (with its language model) once, list what is cached.

Models live in the Hugging Face hub cache (``HF_HUB_CACHE``, by default
``~/.cache/huggingface/hub``), where loading the ``ctc`` stage finds them. A machine prepared
with :func:`download_model` runs with ``HF_HUB_OFFLINE=1`` afterwards. ``huggingface_hub`` is
imported only when a function runs.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ModelError
from .hub import ensure_reachable, hub_reachable, is_hub_id, offline_mode, revision_to_load

if TYPE_CHECKING:
    from .config import PipelineConfig

__all__ = [
    "OTHER_FRAMEWORK_WEIGHTS",
    "CachedModel",
    "ModelNeed",
    "cache_dir",
    "cached_models",
    "check_model_folders",
    "download_model",
    "hub_unreachable",
    "models_needed",
    "skipped_files",
]

OTHER_FRAMEWORK_WEIGHTS = (
    "*.msgpack",
    "*.h5",
    "*.ot",
    "tf_model*",
    "flax_model*",
    "rust_model*",
)
"""Weights for other frameworks, never downloaded."""


@dataclass(frozen=True)
class CachedModel:
    """One cached revision of a model repository."""

    model: str
    revision: str
    refs: tuple[str, ...]
    size: int
    files: int
    language_model: bool
    path: Path


@dataclass(frozen=True)
class ModelNeed:
    """A hub model a configured pipeline loads: which stage, at which revision, and whether
    its ``language_model/`` folder is wanted (beam search with the model's own KenLM model)."""

    stage: str
    model: str
    revision: str | None
    language_model: bool


def models_needed(config: PipelineConfig) -> list[ModelNeed]:
    """The hub models the config's pipeline loads, in pipeline order: every stage's ``model``
    option that is a hub ID rather than a folder (the ctc model at its pinned revision, the
    punctuation model...)."""
    needs: dict[tuple[str, str | None], ModelNeed] = {}
    for name in config.pipeline:
        options = config.stages[name].options
        model = options.get("model")
        if not isinstance(model, str) or Path(model).expanduser().is_dir() or not is_hub_id(model):
            continue
        revision = revision_to_load(model, options.get("revision"))
        beam = options.get("decoder") == "beam" and options.get("lm") is None
        need = needs.setdefault((model, revision), ModelNeed(name, model, revision, beam))
        if beam and not need.language_model:
            needs[model, revision] = dataclasses.replace(need, language_model=True)
    return list(needs.values())


def check_model_folders(config: PipelineConfig) -> None:
    """Raise :class:`~.errors.ModelNotFoundError` for a stage's ``model`` option that names a
    folder (not a hub ID) that is not there: a check a driver can make before its workers
    start, where hub models are left to the workers' caches."""
    for name in config.pipeline:
        model = config.stages[name].options.get("model")
        if isinstance(model, str) and not is_hub_id(model):
            ensure_reachable(model, option=f"stages.{name}.model")


def cache_dir(explicit: str | Path | None = None) -> Path:
    """The hub cache: ``explicit``, else ``HF_HUB_CACHE`` as set now, else huggingface_hub's."""
    if explicit is not None:
        return Path(explicit).expanduser()
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    from huggingface_hub import constants

    return Path(constants.HF_HUB_CACHE)


def cached_models(directory: str | Path | None = None) -> list[CachedModel]:
    """Every cached model revision, sorted by model then revision; empty without a cache."""
    from huggingface_hub import scan_cache_dir
    from huggingface_hub.errors import CacheNotFound

    try:
        info = scan_cache_dir(cache_dir(directory))
    except CacheNotFound:
        return []
    found = [
        CachedModel(
            model=repo.repo_id,
            revision=revision.commit_hash,
            refs=tuple(sorted(revision.refs)),
            size=revision.size_on_disk,
            files=len(revision.files),
            language_model=any(
                f.file_name != "attrs.json" and Path(f.file_path).parent.name == "language_model"
                for f in revision.files
            ),
            path=Path(revision.snapshot_path),
        )
        for repo in info.repos
        if repo.repo_type == "model"
        for revision in repo.revisions
    ]
    return sorted(found, key=lambda m: (m.model, m.revision))


HUB_PROBE_S = 3.0
"""Seconds to wait for a connection to the hub before saying it cannot be reached."""


def skipped_files(files: Iterable[str], *, language_model: bool = True) -> list[str]:
    """Patterns of a repository's files not worth downloading: other frameworks' weights,
    ``pytorch_model*.bin`` where safetensors weights exist (they are preferred), and the
    ``language_model/`` folder unless wanted."""
    names = list(files)
    patterns = list(OTHER_FRAMEWORK_WEIGHTS)
    if any(fnmatch.fnmatch(name, "*.safetensors") for name in names):
        patterns.append("pytorch_model*.bin")
    if not language_model:
        patterns.append("language_model/*")
    return patterns


def download_model(
    model: str,
    revision: str | None = None,
    *,
    language_model: bool = True,
    directory: str | Path | None = None,
) -> Path:
    """Download a model repository into the hub cache (progress bars on stderr); return the
    snapshot folder, whose name is the commit hash. Without ``revision`` a pinned model's pinned
    commit is downloaded (:data:`~.hub.PINNED_REVISIONS`), any other model's newest.

    Raises :class:`ModelError` with what to do when the hub cannot be reached.
    """
    target = cache_dir(directory)
    revision = revision_to_load(model, revision)
    what = f"'{model}'" + (f" at revision {revision}" if revision else "")
    if not offline_mode() and not hub_reachable(timeout=HUB_PROBE_S):
        # huggingface_hub would retry for about 25 s, printing a line each time
        raise ModelError(
            f"cannot download {what}: the Hugging Face hub cannot be reached; run this on a "
            f"machine with network access (the cache is {target})"
        )
    from huggingface_hub import HfApi, snapshot_download

    try:
        files = HfApi().list_repo_files(model, revision=revision)
        path = snapshot_download(
            model,
            revision=revision,
            cache_dir=target,
            ignore_patterns=skipped_files(files, language_model=language_model),
        )
    except Exception as e:
        raise _download_error(model, revision, target, e) from e
    return Path(path)


def _download_error(model: str, revision: str | None, target: Path, error: Exception) -> ModelError:
    from huggingface_hub import constants

    what = f"'{model}'" + (f" at revision {revision}" if revision else "")
    if constants.HF_HUB_OFFLINE:
        return ModelError(
            f"cannot download {what}: HF_HUB_OFFLINE is set; unset it on a machine with "
            f"network access (the cache is {target}), then copy the cache or run offline"
        )
    kind = type(error).__name__
    if kind in ("RepositoryNotFoundError", "GatedRepoError"):
        return ModelError(f"no model {what} on the hub (or it needs a login): check the name")
    if kind == "RevisionNotFoundError":
        return ModelError(f"model '{model}' has no revision {revision!r}")
    if hub_unreachable(error):
        return ModelError(
            f"cannot download {what}: the hub cannot be reached; run this on a machine with "
            f"network access (the cache is {target})"
        )
    detail = " ".join(str(error).split())[:300]
    return ModelError(f"cannot download {what}: {kind}: {detail}")


def hub_unreachable(error: BaseException) -> bool:
    """Whether an error (or one it was raised from) means the hub could not be reached or the
    file was wanted offline and is not cached."""
    seen: BaseException | None = error
    while seen is not None:
        if type(seen).__name__ in _UNREACHABLE or isinstance(seen, (ConnectionError, TimeoutError)):
            return True
        text = str(seen).lower()
        if any(hint in text for hint in ("offline", "couldn't connect", "name or service")):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


_UNREACHABLE = {
    "LocalEntryNotFoundError",
    "OfflineModeIsEnabled",
    "ConnectError",
    "ConnectTimeout",
    "ConnectionError",
}
