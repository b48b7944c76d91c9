"""Errors raised by asr-pipeline.

Every error the package raises on purpose derives from :class:`AsrPipelineError`, so a caller
can catch one type; the CLI prints such an error as one line and exits non-zero::

    AsrPipelineError
     ├── ConfigError                 a bad config file, option or value (names its dotted path)
     │    └── UnknownNameError       an unknown stage or writer name (with a did-you-mean)
     ├── AudioError                  missing, unreadable, corrupt or empty audio (names the file)
     ├── OutputError                 an output file or folder that cannot be written (names it)
     ├── ModelError                  a model that cannot be found, downloaded or loaded
     ├── MissingDependencyError      an optional extra is not installed (names the pip command)
     └── StageError                  a stage failed on a source (names both; chained to the cause)
"""

from __future__ import annotations

__all__ = [
    "AsrPipelineError",
    "AsrPipelineWarning",
    "AudioError",
    "ConfigError",
    "MissingDependencyError",
    "ModelError",
    "OutputError",
    "StageError",
    "TruncatedAudioWarning",
    "UnknownNameError",
    "shorten",
]

SHOWN_CHARS = 200
"""The most characters of a value an error message shows."""


def shorten(text: str, limit: int = SHOWN_CHARS) -> str:
    """``text`` cut to ``limit`` characters, saying how much was left out.

    >>> shorten("x" * 300)[-30:]
    'xxxxxxxxxx... (300 characters)'
    """
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


class AsrPipelineError(Exception):
    """Base class of every error raised by asr-pipeline."""


class ConfigError(AsrPipelineError, ValueError):
    """A configuration problem; ``path`` is the dotted location (``stages.ctc.chunk_s``)."""

    def __init__(self, message: str, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{shorten(path)}: {message}" if path else message)


class UnknownNameError(ConfigError, KeyError):
    """An unknown stage, factory or writer name."""

    def __init__(self, kind: str, name: str, known: list[str], path: str | None = None) -> None:
        import difflib

        self.name = name
        self.known = sorted(known)
        close = difflib.get_close_matches(name, self.known, n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        known_names = ", ".join(self.known) or "(none)"
        super().__init__(f"unknown {kind} '{shorten(name)}'.{hint} Known: {known_names}", path)

    def __str__(self) -> str:  # KeyError would quote the message
        return Exception.__str__(self)


class AudioError(AsrPipelineError):
    """Audio that cannot be read; the message names the file."""


class OutputError(AsrPipelineError, OSError):
    """An output file or folder that cannot be written; the message names it."""


class ModelError(AsrPipelineError):
    """A model that cannot be found, downloaded or loaded."""


class MissingDependencyError(AsrPipelineError, ImportError):
    """An optional dependency is missing; the message says which extra to install."""

    def __init__(self, feature: str, extra: str, package: str | None = None) -> None:
        self.extra = extra
        what = f" ({package})" if package else ""
        super().__init__(
            f"{feature} needs an optional dependency{what}: pip install 'asr-pipeline[{extra}]'"
        )


class StageError(AsrPipelineError):
    """A stage raised while processing a source; the original error is ``__cause__``."""

    def __init__(self, stage: str, source: str | None, cause: BaseException) -> None:
        self.stage = stage
        self.source = source
        where = f" on {source}" if source else ""
        super().__init__(f"stage '{stage}' failed{where}: {type(cause).__name__}: {cause}")


class AsrPipelineWarning(UserWarning):
    """Base class of the warnings about a user's input; the CLI always shows them."""


class TruncatedAudioWarning(AsrPipelineWarning):
    """A file holds less audio than its header declares; the audio that is there is used."""
