"""The ``serve:`` config section: how streamed audio is cut into utterances and recognised."""

from __future__ import annotations

from collections.abc import Sequence
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
        max_upload_audio_s: an upload that decodes to more audio than this is refused (it is
            decoded in memory: 3 hours of mono audio take about 700 MB).
        idle_timeout_s: a stream that sends nothing for this long is closed, freeing its slot.
    """

    endpoint_silence_s: float = 0.5
    max_utterance_s: float = 20.0
    partial_interval_s: float = 0.5
    left_context_s: float = 1.0
    right_context_s: float = 0.5
    max_upload_audio_s: float = 10800.0
    idle_timeout_s: float = 60.0

    def __post_init__(self) -> None:
        for name in (
            "endpoint_silence_s",
            "max_utterance_s",
            "partial_interval_s",
            "max_upload_audio_s",
            "idle_timeout_s",
        ):
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


MAX_TERMS = 100
"""The most terms a request may ask to favour (``prompt``, ``phrase_list``)."""
MAX_TERM_CHARS = 100
"""The longest term a request may give."""


def request_terms(terms: Sequence[str], where: str) -> tuple[str, ...]:
    """A request's terms, checked against :data:`MAX_TERMS` and :data:`MAX_TERM_CHARS`;
    raises ValueError naming ``where``."""
    terms = tuple(t.strip() for t in terms if t.strip())
    if len(terms) > MAX_TERMS:
        raise ValueError(f"{where}: at most {MAX_TERMS} terms, got {len(terms)}")
    for term in terms:
        if len(term) > MAX_TERM_CHARS:
            raise ValueError(f"{where}: a term is over {MAX_TERM_CHARS} characters: {term[:40]}...")
    return terms
