"""asr-pipeline inside spaCy: text stages as components, transcripts as timed Docs.

>>> import spacy
>>> nlp = spacy.blank("ru")
>>> _ = nlp.add_pipe("asr_numbers")
>>> nlp("ему было сорок два года").text
'ему было 42 года'
"""

from .components import StageComponent, StageFactory, register_factory
from .convert import build_doc, is_timed, span_time, to_doc, to_transcript
from .extensions import TOKEN_EXTENSIONS, register_extensions

__all__ = [
    "TOKEN_EXTENSIONS",
    "StageComponent",
    "StageFactory",
    "build_doc",
    "is_timed",
    "register_extensions",
    "register_factory",
    "span_time",
    "to_doc",
    "to_transcript",
]
