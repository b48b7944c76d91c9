"""Backends: batches of 16 kHz audio in, log-probabilities per frame out.

A backend owns the acoustic model and its preprocessing. The torch backend lives here; an ONNX
Runtime backend plugs in by offering the same attributes and ``log_probs`` method.
"""

from __future__ import annotations

import contextlib
import os
import threading
import warnings
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "Backend",
    "TorchBackend",
    "chunk_feature_encoder",
    "conv_output_length",
    "quantize_int8",
    "receptive_field",
    "torch_threads",
]

FEATURE_CHUNK_FRAMES = 100
"""Frames (2 s at 20 ms) of audio per piece of the feature encoder's work."""


class Backend(Protocol):
    """Runs a CTC acoustic model over batches of audio."""

    frame_samples: int
    """Samples per output frame (the product of the feature encoder's strides)."""

    vocabulary_size: int

    def output_frames(self, samples: int) -> int:
        """How many frames the model emits for that many samples."""
        ...

    def log_probs(self, batch: Sequence[np.ndarray]) -> list[np.ndarray]:
        """One (frames, vocabulary) float32 array of log-probabilities per input."""
        ...


def conv_output_length(samples: int, kernels: Sequence[int], strides: Sequence[int]) -> int:
    """Frames out of a stack of unpadded 1-D convolutions."""
    length = samples
    for kernel, stride in zip(kernels, strides, strict=True):
        length = (length - kernel) // stride + 1
        if length <= 0:
            return 0
    return length


_THREADS_LOCK = threading.Lock()
_threads_users = 0
_threads_before = 0
"""How many ``torch_threads`` blocks are running, and the count to put back after the last."""


@contextlib.contextmanager
def torch_threads(threads: int | None) -> Iterator[None]:
    """Run with ``threads`` torch threads, restoring the previous count afterwards.

    With ``threads=None`` the process's count stands, except that a count of 1 left behind by
    a library (silero-vad sets it on import) is lifted to the available cores unless the user
    asked for it through ``OMP_NUM_THREADS``.

    The count is the process's: blocks running at once in several threads share it (the one
    entered last sets it), and the count from before the first is put back after the last.
    """
    import torch

    global _threads_users, _threads_before
    with _THREADS_LOCK:
        if _threads_users == 0:
            _threads_before = torch.get_num_threads()
        _threads_users += 1
        wanted = threads
        if wanted is None and _threads_before == 1 and "OMP_NUM_THREADS" not in os.environ:
            wanted = _available_cores()
        if wanted and wanted != torch.get_num_threads():
            torch.set_num_threads(wanted)
    try:
        yield
    finally:
        with _THREADS_LOCK:
            _threads_users -= 1
            if _threads_users == 0 and torch.get_num_threads() != _threads_before:
                torch.set_num_threads(_threads_before)


def _available_cores() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def featurize(
    feature_extractor: Any,
    batch: Sequence[np.ndarray],
    sampling_rate: int,
    attention_mask: bool,
    tensors: str,
) -> Any:
    """A padded batch of model inputs (``tensors``: "pt" or "np"), with an attention mask when
    the feature extractor asks for one."""
    return feature_extractor(
        list(batch),
        sampling_rate=sampling_rate,
        padding=True,
        return_attention_mask=attention_mask,
        return_tensors=tensors,
    )


def quantize_int8(model: Any) -> Any:
    """Dynamic int8 quantization of the linear layers (CPU), one layer at a time.

    Uses ``torch.ao.quantization.quantize_dynamic``; its deprecation notice (torchao is the
    successor) is kept from users, the result being the same on the torch versions this project
    supports. Each float32 weight read from a memory-mapped weights file has its pages handed
    back once its layer is quantized, so the whole float32 model is never resident at once. The
    convolutional feature encoder stays float32.
    """
    import torch

    maps = _file_mappings()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.filterwarnings("ignore", message=".*deprecat.*")
        for parent in list(model.modules()):
            for name, child in list(parent.named_children()):
                if type(child) is not torch.nn.Linear:
                    continue
                holder = torch.nn.Sequential(child)
                torch.ao.quantization.quantize_dynamic(
                    holder, {torch.nn.Linear}, dtype=torch.qint8, inplace=True
                )
                setattr(parent, name, holder[0])
                _release_pages(child.weight, maps)
    return model


def _file_mappings() -> list[tuple[int, int]]:
    """Address ranges of this process's file-backed memory maps (Linux; empty elsewhere)."""
    ranges = []
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            for line in maps:
                fields = line.split()
                if len(fields) >= 6 and fields[5].startswith("/"):
                    lo, hi = (int(x, 16) for x in fields[0].split("-"))
                    ranges.append((lo, hi))
    except OSError:
        return []
    return ranges


def _release_pages(tensor: Any, maps: list[tuple[int, int]]) -> None:
    """Drop the resident pages of a tensor that lives in a file-backed memory map.

    Only whole pages inside the tensor are released, and only in a file mapping: touching them
    again would read the file anew, so no data can be lost. Anywhere else this does nothing.
    """
    import ctypes
    import mmap

    start, size = tensor.data_ptr(), tensor.nbytes
    if not any(lo <= start and start + size <= hi for lo, hi in maps):
        return
    page = mmap.PAGESIZE
    first = -(-start // page) * page
    last = (start + size) // page * page
    if last > first:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.madvise(ctypes.c_void_p(first), ctypes.c_size_t(last - first), mmap.MADV_DONTNEED)


def receptive_field(kernels: Sequence[int], strides: Sequence[int]) -> int:
    """Samples one output frame of a stack of 1-D convolutions depends on."""
    field, step = 1, 1
    for kernel, stride in zip(kernels, strides, strict=True):
        field += (kernel - 1) * step
        step *= stride
    return field


def chunk_feature_encoder(model: Any, frames: int = FEATURE_CHUNK_FRAMES) -> bool:
    """Run the model's convolutional feature encoder one item and ``frames`` frames at a time.

    The encoder's first layer works at the audio's rate with 512 channels: on a whole batch it
    needs about 22 MB of memory per second of audio, far more than the transformer after it.
    With layer normalisation (``feat_extract_norm="layer"``, as in xlsr-53) every frame depends
    only on its own 400 samples, so pieces that overlap by the receptive field give exactly the
    same frames. Returns whether the encoder was wrapped (not for group-normalised encoders,
    whose first layer normalises over time).
    """
    import torch

    config = model.config
    base = getattr(model, model.base_model_prefix, None)
    encoder = getattr(base, "feature_extractor", None)
    if encoder is None or getattr(config, "feat_extract_norm", None) != "layer":
        return False
    kernels, strides = tuple(config.conv_kernel), tuple(config.conv_stride)

    class ChunkedFeatureEncoder(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder
            self.hop = 1
            for stride in strides:
                self.hop *= stride
            self.field = receptive_field(kernels, strides)

        def forward(self, input_values: torch.Tensor) -> torch.Tensor:
            total = conv_output_length(input_values.shape[-1], kernels, strides)
            if input_values.shape[0] == 1 and total <= frames:
                return self.encoder(input_values)
            rows = []
            for row in input_values.split(1):
                parts = [
                    self.encoder(
                        row[:, f * self.hop : (min(total, f + frames) - 1) * self.hop + self.field]
                    )
                    for f in range(0, total, frames)
                ]
                rows.append(torch.cat(parts, dim=-1))
            return torch.cat(rows)

    base.feature_extractor = ChunkedFeatureEncoder()
    return True


class TorchBackend:
    """A transformers CTC model on torch, with its feature extractor's preprocessing."""

    def __init__(
        self,
        model: Any,
        feature_extractor: Any,
        *,
        device: str = "cpu",
        dtype: str = "float32",
        quantize: str = "none",
        threads: int | None = None,
    ) -> None:
        import torch

        self.device = torch.device(device)
        self.dtype = getattr(torch, dtype)
        self.threads = threads
        self.feature_extractor = feature_extractor
        self.sampling_rate = int(feature_extractor.sampling_rate)
        self.attention_mask = bool(getattr(feature_extractor, "return_attention_mask", False))
        config = model.config
        self.kernels = tuple(config.conv_kernel)
        self.strides = tuple(config.conv_stride)
        self.frame_samples = 1
        for stride in self.strides:
            self.frame_samples *= stride
        self.vocabulary_size = int(config.vocab_size)
        model.eval()
        chunk_feature_encoder(model)
        self.quantized = quantize == "int8"
        if self.quantized:
            with torch_threads(threads):
                model = quantize_int8(model)
        else:
            model = model.to(device=self.device, dtype=self.dtype)
        self.model = model

    def output_frames(self, samples: int) -> int:
        return conv_output_length(samples, self.kernels, self.strides)

    def log_probs(self, batch: Sequence[np.ndarray]) -> list[np.ndarray]:
        import torch

        features = featurize(
            self.feature_extractor, batch, self.sampling_rate, self.attention_mask, "pt"
        )
        inputs = features["input_values"].to(self.device, self.dtype)
        mask = features.get("attention_mask") if self.attention_mask else None
        with torch_threads(self.threads), torch.inference_mode():
            logits = self.model(
                inputs, attention_mask=None if mask is None else mask.to(self.device)
            ).logits
            log_probs = torch.log_softmax(logits.float(), dim=-1).cpu().numpy()
        return [lp[: self.output_frames(len(x))] for lp, x in zip(log_probs, batch, strict=True)]
