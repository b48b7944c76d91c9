"""Exporting a CTC model to ONNX once, and keeping the export in the user's cache folder.

An export is a folder in ``<cache>/onnx/`` named after the model and a digest of its *key*: the
model (hub id and revision, or a local folder's path and weight files' sizes and times), the
quantization, whether the graph takes an attention mask, and the versions of torch, transformers,
onnx and onnxruntime. Any change gives a new folder; nothing is written beside the weights.

An entry is built in a hidden ``.partial-*`` folder, finished with ``manifest.json`` (the key
and every file's size and SHA-256) and only then renamed into place. Before an entry is used its
manifest and files are checked; an entry that fails the check is removed and built again.
"""

from __future__ import annotations

import contextlib
import hashlib
import inspect
import json
import os
import shutil
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import AsrPipelineError, MissingDependencyError, ModelError

__all__ = [
    "CACHE_ENV",
    "MANIFEST",
    "MODEL_FILE",
    "cache_root",
    "cached_export",
    "entry_folder",
    "export_key",
    "export_log_probs",
    "quantize_matmul_int8",
    "verify_entry",
]

CACHE_ENV = "ASR_PIPELINE_CACHE"
"""Environment variable naming the cache folder (its ``onnx/`` subfolder holds exports)."""

EXPORT_FORMAT = 2
"""Bumped whenever the exported graph changes (inputs, outputs, opset, quantization settings)."""

OPSET = 17
MODEL_FILE = "model.onnx"
MANIFEST = "manifest.json"
PARTIAL_PREFIX = ".partial-"
STALE_PARTIAL_S = 6 * 3600

Reporter = Callable[[str], contextlib.AbstractContextManager[Any]]


def cache_root() -> Path:
    """The user's cache folder for asr-pipeline.

    ``$ASR_PIPELINE_CACHE`` when set; else ``$XDG_CACHE_HOME/asr-pipeline``; else the platform's
    default (``~/.cache/asr-pipeline`` on Linux, ``~/Library/Caches/asr-pipeline`` on macOS,
    ``%LOCALAPPDATA%\\asr-pipeline\\Cache`` on Windows).
    """
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "asr-pipeline"
    home = Path.home()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA")
        return (Path(base) if base else home / "AppData" / "Local") / "asr-pipeline" / "Cache"
    if sys.platform == "darwin":
        return home / "Library" / "Caches" / "asr-pipeline"
    return home / ".cache" / "asr-pipeline"


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for package in ("torch", "transformers", "onnx", "onnxruntime"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:  # onnxruntime-gpu and similar builds
            module = sys.modules.get(package)
            found[package] = str(getattr(module, "__version__", "unknown"))
    return found


def _local_weights(folder: Path) -> dict[str, list[int]]:
    """Size and modification time of a model folder's config and weight files."""
    files = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and (
            path.name == "config.json" or path.suffix in (".safetensors", ".bin", ".pt", ".pth")
        ):
            stat = path.stat()
            files[path.name] = [stat.st_size, stat.st_mtime_ns]
    return files


def export_key(
    model: str, revision: str | None, quantize: str, attention_mask: bool
) -> dict[str, Any]:
    """What an export depends on; equal keys mean interchangeable exports."""
    local = Path(model).expanduser()
    key: dict[str, Any] = {"format": EXPORT_FORMAT, "opset": OPSET}
    if local.is_dir():
        folder = local.resolve()
        key["model"] = str(folder)
        key["files"] = _local_weights(folder)
    else:
        key["model"] = model
        key["revision"] = revision
    key.update(quantize=quantize, attention_mask=attention_mask, versions=_versions())
    return key


def entry_folder(key: dict[str, Any], root: Path | None = None) -> Path:
    """Where the export with this key lives."""
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    name = Path(key["model"]).name if "files" in key else key["model"].replace("/", "--")
    slug = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[-60:].lstrip(".")
    return (root or cache_root() / "onnx") / f"{slug}-{key['quantize']}-{digest}"


# ---------------------------------------------------------------- checking entries


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fp:
        for block in iter(lambda: fp.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _write_manifest(folder: Path, key: dict[str, Any]) -> None:
    files = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            with path.open("r+b") as fp:
                os.fsync(fp.fileno())
            name = path.relative_to(folder).as_posix()
            files[name] = {"size": path.stat().st_size, "sha256": _sha256(path)}
    manifest = {
        "key": key,
        "files": files,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    target = folder / MANIFEST
    with target.open("w", encoding="utf-8") as fp:
        json.dump(manifest, fp, indent=2, ensure_ascii=False)
        fp.flush()
        os.fsync(fp.fileno())


def verify_entry(folder: Path, key: dict[str, Any]) -> str | None:
    """``None`` when the entry is complete and matches ``key``, else why it is not."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return "no manifest (an interrupted export)"
    except (OSError, ValueError) as e:
        return f"unreadable manifest ({type(e).__name__})"
    if not isinstance(manifest, dict) or manifest.get("key") != key:
        return "manifest of another export"
    files = manifest.get("files")
    if not isinstance(files, dict) or MODEL_FILE not in files:
        return f"manifest does not list {MODEL_FILE}"
    try:
        return _check_files(folder, files)
    except OSError as e:
        return f"unreadable files ({type(e).__name__})"


def _check_files(folder: Path, files: dict[str, Any]) -> str | None:
    present = {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}
    if present - {MANIFEST} != set(files):
        return "files differ from the manifest"
    for name, expected in files.items():
        path = folder / name
        if not isinstance(expected, dict) or path.stat().st_size != expected.get("size"):
            return f"{name} has the wrong size"
        if _sha256(path) != expected.get("sha256"):
            return f"{name} has the wrong checksum"
    return None


# ---------------------------------------------------------------- building entries


@contextlib.contextmanager
def _stderr_status(message: str) -> Iterator[None]:
    """A line on stderr saying what runs, a spinner with the elapsed time (on a terminal),
    and a line when it is done."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(stderr=True, highlight=False, soft_wrap=True)
    console.print(f"{message} ...", markup=False)
    started = time.perf_counter()
    if console.is_terminal:
        columns = (SpinnerColumn(), TextColumn("working"), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            progress.add_task("working", total=None)
            yield
    else:
        yield
    console.print(f"done in {time.perf_counter() - started:.0f} s", markup=False)


def cached_export(
    model: str,
    revision: str | None,
    quantize: str,
    attention_mask: bool,
    torch_model: Callable[[], Any],
    *,
    root: Path | None = None,
    report: Reporter | None = None,
) -> Path:
    """The ONNX file for a model, exported (and quantized) unless the cache holds it already.

    ``revision`` should be the resolved commit hash of a hub model; ``torch_model()`` gives the
    transformers model and is called only when an export has to be built. ``quantize="int8"``
    builds (or reuses) the float32 entry first and quantizes it. ``report(message)`` is a
    context manager around each slow step (default: lines and a spinner on stderr).
    """
    report = report or _stderr_status
    key = export_key(model, revision, quantize, attention_mask)
    folder = entry_folder(key, root)
    problem = verify_entry(folder, key) if folder.exists() else "missing"
    if problem is None:
        return folder / MODEL_FILE
    if folder.exists():
        with report(f"The cached ONNX export in {folder} is broken ({problem}): removing it"):
            _remove(folder)
    if quantize == "int8":
        source = cached_export(
            model, revision, "none", attention_mask, torch_model, root=root, report=report
        )

        def build(target: Path) -> None:
            quantize_matmul_int8(source, target)

        what = f"Quantizing the ONNX export of {model} to int8, once (cached in {folder})"
    else:

        def build(target: Path) -> None:
            export_log_probs(torch_model(), target, attention_mask)

        what = f"Exporting {model} to ONNX, once (cached in {folder})"
    try:
        with report(what):
            _build_entry(folder, key, build)
    except AsrPipelineError:
        raise
    except Exception as e:
        detail = " ".join(f"{type(e).__name__}: {e}".split())[:300]
        raise ModelError(
            f"cannot export {model} to ONNX in {folder.parent}: {detail} "
            f"(set {CACHE_ENV} for another folder, or use backend: torch)"
        ) from e
    return folder / MODEL_FILE


def _build_entry(folder: Path, key: dict[str, Any], build: Callable[[Path], None]) -> None:
    folder.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(folder.parent)
    partial = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f"{PARTIAL_PREFIX}{folder.name}-"))
    try:
        build(partial / MODEL_FILE)
        _write_manifest(partial, key)  # last: its presence marks a complete entry
        try:
            os.rename(partial, folder)
        except OSError:  # another process finished the same entry first
            if verify_entry(folder, key) is not None:
                _remove(folder)
                os.rename(partial, folder)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    problem = verify_entry(folder, key)
    if problem is not None:
        raise ModelError(
            f"the ONNX export in {folder} failed its check right after export: {problem}"
        )


def _remove(folder: Path) -> None:
    """Remove an entry: renamed aside first, so no reader sees it half deleted."""
    aside = folder.with_name(f"{PARTIAL_PREFIX}removed-{folder.name}-{os.getpid()}")
    with contextlib.suppress(FileNotFoundError):
        os.rename(folder, aside)
    shutil.rmtree(aside, ignore_errors=True)


def _remove_stale_partials(parent: Path) -> None:
    """Leftovers of exports killed more than a few hours ago."""
    now = time.time()
    for path in parent.glob(f"{PARTIAL_PREFIX}*"):
        with contextlib.suppress(OSError):
            if now - path.stat().st_mtime > STALE_PARTIAL_S:
                shutil.rmtree(path, ignore_errors=True)


# ---------------------------------------------------------------- export and quantization


def export_log_probs(model: Any, path: Path, attention_mask: bool) -> None:
    """Export a transformers CTC model as ``(input_values[, attention_mask]) -> log_probs``.

    Batch and time axes are dynamic. The TorchScript-based exporter is used: it needs no extra
    package and handles wav2vec2 models (the torch.export-based one needs onnxscript). Attention
    is exported in its plain ("eager") form: torch's ONNX form of scaled-dot-product attention
    with a mask adds NaN checks over every attention matrix, about a sixth of the run time.
    """
    try:
        import onnx  # noqa: F401  (the exporter writes through it)
    except ImportError as e:
        raise MissingDependencyError("exporting the ctc model to ONNX", "onnx", "onnx") from e
    import torch

    class LogProbs(torch.nn.Module):
        def __init__(self, inner: Any) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_values: Any, mask: Any = None) -> Any:
            logits = self.inner(input_values, attention_mask=mask).logits
            return torch.log_softmax(logits.float(), dim=-1)

    _plain_attention(model)
    wrapper = LogProbs(model.to("cpu", torch.float32)).eval()
    samples = torch.zeros(2, 16_000)
    samples[:, ::7] = 0.1  # not constant, so nothing folds away as a special case
    names = ["input_values"]
    args: tuple[Any, ...] = (samples,)
    if attention_mask:
        mask = torch.ones(2, 16_000, dtype=torch.long)
        mask[1, 8_000:] = 0  # a padded row, so the masking is traced
        names.append("attention_mask")
        args = (samples, mask)
    axes = {name: {0: "batch", 1: "samples"} for name in names}
    axes["log_probs"] = {0: "batch", 1: "frames"}
    takes_dynamo = "dynamo" in inspect.signature(torch.onnx.export).parameters  # torch >= 2.5
    legacy = {"dynamo": False} if takes_dynamo else {}
    with warnings.catch_warnings(), torch.inference_mode(False), torch.no_grad():
        warnings.simplefilter("ignore")  # tracer and deprecation notices, not for users
        torch.onnx.export(
            wrapper,
            args,
            str(path),
            input_names=names,
            output_names=["log_probs"],
            dynamic_axes=axes,
            opset_version=OPSET,
            do_constant_folding=True,
            **legacy,
        )
    model.eval()


def _plain_attention(model: Any) -> None:
    """Switch a transformers model to its eager attention (same results, another graph)."""
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation("eager")
    else:  # older transformers read the config at run time
        model.config._attn_implementation = "eager"


def quantize_matmul_int8(source: Path, target: Path) -> None:
    """Dynamic int8 quantization of the MatMul weights (the transformer layers).

    The convolutional feature encoder stays float32: quantizing it too costs accuracy for
    little speed.
    """
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    quiet = logging.getLogger().level
    logging.getLogger().setLevel(logging.ERROR)  # "run pre-processing first" and the like
    try:
        quantize_dynamic(
            source, target, op_types_to_quantize=["MatMul"], weight_type=QuantType.QInt8
        )
    finally:
        logging.getLogger().setLevel(quiet)
