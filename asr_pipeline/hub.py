"""Reaching the Hugging Face hub: fail fast, with one clear line, when a model cannot be had."""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from urllib.parse import urlparse

from .errors import ModelError, ModelNotFoundError

__all__ = [
    "PINNED_REVISIONS",
    "ensure_reachable",
    "hub_commit",
    "hub_reachable",
    "is_hub_id",
    "is_cached",
    "offline_mode",
    "revision_to_load",
]

PINNED_REVISIONS = {
    "jonatasgrosman/wav2vec2-large-xlsr-53-russian": "2329100508896c6d9b157019803ab5601e6f3406",
}
"""The commit of a hub model that is loaded when no revision is asked for: a community model
can change under its name, and a pinned commit keeps every transcript reproducible."""


def revision_to_load(model: str, revision: str | None) -> str | None:
    """``revision`` when given; else the model's pinned commit; else ``None`` (the newest)."""
    return revision if revision is not None else PINNED_REVISIONS.get(model)


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")


def is_hub_id(name: str) -> bool:
    """Whether ``name`` is shaped like a hub model ID: ``org/name``."""
    return bool(_HUB_ID.fullmatch(name)) and ".." not in name and not name.endswith(".")


def is_cached(name: str, revision: str | None = None) -> bool:
    """Whether a hub model's config is in the local cache."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(name, "config.json", revision=revision), str)
    except Exception:
        return False


def hub_reachable(timeout: float = 3.0) -> bool:
    """Whether a TCP connection to the hub's endpoint opens within ``timeout`` seconds."""
    endpoint = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co")
    host = endpoint.hostname or "huggingface.co"
    port = endpoint.port or (80 if endpoint.scheme == "http" else 443)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def offline_mode() -> bool:
    """Whether HF_HUB_OFFLINE is set."""
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except Exception:
        return os.environ.get("HF_HUB_OFFLINE", "").lower() in {"1", "true", "yes", "on"}


def ensure_reachable(name: str, revision: str | None = None, *, option: str = "--model") -> None:
    """Raise :class:`ModelError` at once when ``name`` is neither a folder, nor cached, nor
    downloadable, instead of letting the download retry for a minute and fail obscurely."""
    path = Path(name).expanduser()
    if path.is_dir() or is_cached(name, revision):
        return
    if not is_hub_id(name) or path.exists():
        raise ModelNotFoundError(
            f"no model folder at {name}: give a folder holding config.json, "
            "or a hub model ID (org/name)",
            None if " " in option else option,
        )
    if offline_mode():
        reason = "HF_HUB_OFFLINE is set"
    elif not hub_reachable():
        reason = "the Hugging Face hub cannot be reached"
    else:
        return
    raise ModelError(
        f"model '{name}' could not be downloaded ({reason}) and is not in the local cache: run "
        f"`asr-pipeline models download {name}` on a connected machine, "
        f"or point {option} at a local folder"
    )


def hub_commit(name: str, revision: str | None, config: object = None) -> str | None:
    """The commit of a hub model's files as loaded (from the local hub cache, where loading
    put them), or ``None`` when it cannot be told."""
    found = getattr(config, "_commit_hash", None)  # transformers < 5 records it here
    if found:
        return str(found)
    try:
        from huggingface_hub import try_to_load_from_cache

        path = try_to_load_from_cache(name, "config.json", revision=revision)
    except Exception:
        return None
    if isinstance(path, str) and Path(path).parent.parent.name == "snapshots":
        return Path(path).parent.name
    return None
