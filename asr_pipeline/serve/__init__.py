"""``asr-pipeline serve``: the pipeline as a network service.

Two protocols, so clients switch by changing a URL: OpenAI's audio transcription API over HTTP
(:mod:`.openai`) and Vosk's WebSocket streaming protocol (:mod:`.stream`), both served by one
ASGI app (:mod:`.app`). Options of the ``serve:`` config section live in :mod:`.settings`.
Nothing heavy is imported here: the web stack loads when a server is made.
"""

from __future__ import annotations

from .settings import ServeOptions

__all__ = ["ServeOptions"]
