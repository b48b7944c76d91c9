"""The ``serve:`` config section: how streamed audio is cut into utterances and recognised."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError

__all__ = ["ServeOptions"]


@dataclass(frozen=True)
class ServeOptions:
    """How `asr-pipeline serve` recognises streamed audio (the WebSocket protocol).

    Options:
        endpoint_silence_s: an utterance ends after this much non-speech (the VAD decides);
            stages.vad.min_silence_s keeps splitting uploaded files only.
        max_utterance_s: an utterance longer than this is cut at its quietest point.
        partial_interval_s: the partial result is recognised anew at least every this much
            audio.
        left_context_s: audio before the new stretch that the model hears again when a partial
            is refreshed (its frames are not kept).
        right_context_s: the newest audio whose frames stay provisional until more audio
            follows (recognised again at the next refresh).
    """

    endpoint_silence_s: float = 0.5
    max_utterance_s: float = 20.0
    partial_interval_s: float = 0.5
    left_context_s: float = 1.0
    right_context_s: float = 0.5

    def __post_init__(self) -> None:
        for name in ("endpoint_silence_s", "max_utterance_s", "partial_interval_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(
                    f"expected seconds > 0, got {getattr(self, name)}", f"serve.{name}"
                )
        for name in ("left_context_s", "right_context_s"):
            if getattr(self, name) < 0:
                raise ConfigError(
                    f"expected seconds >= 0, got {getattr(self, name)}", f"serve.{name}"
                )
        if self.max_utterance_s < 1.0:
            raise ConfigError(
                f"expected at least 1 second, got {self.max_utterance_s}", "serve.max_utterance_s"
            )
