"""asr-pipeline: Russian speech to readable, timed text, through a pipeline of named stages.

>>> from asr_pipeline import Pipeline
>>> pipeline = Pipeline.default()                        # vad, ctc, numbers, punctuation, casing
>>> transcript = pipeline("interview.mp3")              # doctest: +SKIP
>>> print(transcript.text)                              # doctest: +SKIP
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("asr-pipeline")
except PackageNotFoundError:  # running from a source tree without installing
    __version__ = "0.0.0"

from .config import DEFAULT_PIPELINE, PipelineConfig, load_config, resolve_config
from .errors import (
    AsrPipelineError,
    AudioError,
    ConfigError,
    MissingDependencyError,
    ModelError,
    StageError,
    UnknownNameError,
)
from .pipeline import Pipeline
from .registry import register_stage, register_writer
from .types import Audio, Metadata, Segment, Stage, Transcript, Word, Writer

__all__ = [
    "DEFAULT_PIPELINE",
    "AsrPipelineError",
    "Audio",
    "AudioError",
    "ConfigError",
    "Metadata",
    "MissingDependencyError",
    "ModelError",
    "Pipeline",
    "PipelineConfig",
    "Segment",
    "Stage",
    "StageError",
    "Transcript",
    "UnknownNameError",
    "Word",
    "Writer",
    "__version__",
    "load_config",
    "register_stage",
    "register_writer",
    "resolve_config",
]
