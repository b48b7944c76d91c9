"""Loading a CTC model, its feature extractor and tokenizer from the hub or a folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, ModelError
from ..hub import ensure_reachable, hub_commit, is_cached, offline_mode

__all__ = ["LoadedModel", "check_precision", "load_model", "resolve_device"]


@dataclass
class LoadedModel:
    """A model with the pieces that go with it, and where it came from."""

    model: Any
    feature_extractor: Any
    tokenizer: Any
    name: str
    revision: str | None


def resolve_device(device: str) -> str:
    """``auto`` becomes ``cuda`` when a GPU is usable, else ``cpu``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError("cuda was asked for but torch sees no GPU; use device: cpu", "device")
    return device


def check_precision(device: str, dtype: str, quantize: str, where: str = "stages.ctc") -> None:
    """Refuse combinations that are slow or unsupported."""
    on_cpu = not device.startswith("cuda")
    if on_cpu and dtype != "float32":
        raise ConfigError(
            f"{dtype} runs only on cuda: on CPU it is 10-15x slower than float32; "
            "use dtype: float32 (or quantize: int8 for speed)",
            f"{where}.dtype",
        )
    if quantize == "int8" and not on_cpu:
        raise ConfigError(
            "int8 dynamic quantization runs on CPU only; on cuda use dtype: float16",
            f"{where}.quantize",
        )


def load_model(name: str, revision: str | None = None) -> LoadedModel:
    """Load model, feature extractor and tokenizer with transformers' Auto classes.

    ``AutoProcessor`` is avoided on purpose: for a repository with a ``language_model/`` folder
    it returns a processor that needs kenlm even for greedy decoding. Safetensors weights are
    preferred when present, ``pytorch_model.bin`` is read with weights-only unpickling, and
    remote code is never run.
    """
    import transformers
    from transformers import AutoFeatureExtractor, AutoModelForCTC, AutoTokenizer

    local = Path(name).expanduser()
    source = str(local) if local.is_dir() else name
    ensure_reachable(name, revision)
    options: dict[str, Any] = {"revision": revision, "trust_remote_code": False}
    verbosity = transformers.logging.get_verbosity()
    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        feature_extractor = AutoFeatureExtractor.from_pretrained(source, **options)
        tokenizer = AutoTokenizer.from_pretrained(source, **options)
        model = AutoModelForCTC.from_pretrained(source, **options)
    except Exception as e:
        raise _model_error(name, revision, local.is_dir(), e) from e
    finally:
        transformers.logging.set_verbosity(verbosity)
        if bars:
            transformers.utils.logging.enable_progress_bar()
    loaded_revision = revision
    if not local.is_dir():
        loaded_revision = hub_commit(name, revision, model.config) or revision
    return LoadedModel(model, feature_extractor, tokenizer, name, loaded_revision)


def _model_error(name: str, revision: str | None, is_folder: bool, error: Exception) -> ModelError:
    detail = " ".join(str(error).split())[:300]
    if is_folder:
        return ModelError(f"cannot load the model folder {name}: {detail}")
    if _no_such_revision(error):
        return ModelError(
            f"model '{name}' has no revision {revision!r}: set stages.ctc.revision to a commit, "
            "branch or tag it has (main: the newest)"
        )
    if not is_cached(name, revision):
        offline = offline_mode() or _looks_offline(error)
        why = "" if offline else " (no network, or a wrong model id?)"
        return ModelError(
            f"model '{name}' could not be downloaded and is not in the local cache{why}: run "
            "once with network access, run `asr-pipeline models download`, or point --model at "
            "a local folder"
        )
    return ModelError(f"cannot load model '{name}': {detail}")


def _no_such_revision(error: BaseException) -> bool:
    """Whether the hub said the revision does not exist (transformers rewords that error)."""
    seen: BaseException | None = error
    while seen is not None:
        if type(seen).__name__ == "RevisionNotFoundError" or "not a valid git identifier" in str(
            seen
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _looks_offline(error: BaseException) -> bool:
    """True for errors that mean the hub could not be reached."""
    seen: BaseException | None = error
    while seen is not None:
        kind = type(seen).__name__
        text = str(seen).lower()
        if kind in {
            "LocalEntryNotFoundError",
            "OfflineModeIsEnabled",
            "ConnectionError",
            "ConnectTimeout",
            "ConnectError",
        }:
            return True
        if "offline" in text or "couldn't connect" in text or "connection" in text:
            return True
        seen = seen.__cause__ or seen.__context__
    return False
