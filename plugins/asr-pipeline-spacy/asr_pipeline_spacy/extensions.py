"""The token extensions that carry a transcript's timings through spaCy.

``token._.start`` and ``token._.end`` are seconds in the recording, ``token._.speaker`` names who
spoke and ``token._.score`` is the word's confidence; each is None where unknown.
"""

from __future__ import annotations

from spacy.tokens import Token

__all__ = ["TOKEN_EXTENSIONS", "register_extensions"]

TOKEN_EXTENSIONS = ("start", "end", "speaker", "score")


def register_extensions() -> None:
    """Register the token extensions (default None); safe to call any number of times."""
    for name in TOKEN_EXTENSIONS:
        if not Token.has_extension(name):
            Token.set_extension(name, default=None)
