"""asr-pipeline text stages as spaCy pipeline components.

Each spaCy factory (``asr_numbers``, ``asr_casing``, ``asr_punctuation``) builds the asr-pipeline
stage of that name through its registry and takes exactly the stage's options: the factory's
signature is read from the stage factory, so defaults live in one place. A component turns the
Doc into a transcript, runs the stage, and returns a new Doc of the rewritten text, tokenized by
the pipeline's tokenizer, with times, speakers and scores kept (a merged word spans its first
start to its last end).

Importing this module (spaCy does so whenever it builds a ``Language``) imports no stage: a stage
is imported only when its component is configured or built.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from spacy.language import Language
from spacy.tokens import Doc
from spacy.util import minibatch

from asr_pipeline import AsrPipelineError, ConfigError, Stage, StageError, Transcript
from asr_pipeline.config import options_of, validate_options
from asr_pipeline.registry import stages

from .convert import build_doc, is_timed, to_transcript
from .extensions import register_extensions

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "StageComponent",
    "StageFactory",
    "casing_factory",
    "numbers_factory",
    "punctuation_factory",
    "register_factory",
]

_FIXED = (
    inspect.Parameter("nlp", inspect.Parameter.POSITIONAL_OR_KEYWORD),
    inspect.Parameter("name", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=str),
)


class StageComponent:
    """A spaCy component that runs one asr-pipeline stage on Docs."""

    def __init__(self, nlp: Language, name: str, stage: Stage) -> None:
        register_extensions()
        self.nlp = nlp
        self.name = name
        self.stage = stage

    def __call__(self, doc: Doc) -> Doc:
        return self._process([doc])[0]

    def pipe(self, docs: Iterable[Doc], *, batch_size: int = 64) -> Iterator[Doc]:
        """Process Docs in batches; a stage with ``pipe`` gets a whole batch at once."""
        for batch in minibatch(docs, size=batch_size):
            yield from self._process(list(batch))

    def _process(self, docs: Sequence[Doc]) -> list[Doc]:
        transcripts = [to_transcript(doc) for doc in docs]
        try:
            batched = getattr(self.stage, "pipe", None)
            if batched is not None and len(transcripts) > 1:
                results = list(batched(transcripts))
            else:
                results = [self.stage(t) for t in transcripts]
        except StageError:
            raise
        except Exception as e:
            raise StageError(self.name, None, e) from e
        if len(results) != len(docs) or not all(isinstance(t, Transcript) for t in results):
            got = ", ".join(type(t).__name__ for t in results)
            raise StageError(self.name, None, TypeError(f"expected Transcript, got {got}"))
        return [_rebuilt(self.nlp, doc, t) for doc, t in zip(docs, results, strict=True)]


def _rebuilt(nlp: Language, source: Doc, transcript: Transcript) -> Doc:
    doc = build_doc(nlp.make_doc, transcript, timed=is_timed(source))
    for key, value in source.user_data.items():
        # Doc-level extension values are keyed ("._.", name, None, None); token and span values
        # are keyed by character offsets, which no longer hold in the rewritten text.
        if isinstance(key, tuple) and len(key) == 4 and key[0] == "._." and key[2] is None:
            doc.user_data[key] = value
    return doc


class StageFactory:
    """The spaCy factory of a component running the asr-pipeline stage ``stage``.

    Its signature is ``(nlp, name, *, <the stage's options with their defaults>)``, read from the
    stage factory whenever spaCy asks, so spaCy's config fills in and checks exactly the
    stage's options; the values are then validated by asr-pipeline's own rules.
    """

    def __init__(self, component: str, stage: str) -> None:
        self.component = component
        self.stage = stage
        self.__name__ = component
        self.__doc__ = f"spaCy factory '{component}': the asr-pipeline stage '{stage}'."
        self._bare = False

    @property
    def __signature__(self) -> inspect.Signature:
        if self._bare:
            return inspect.Signature(list(_FIXED))
        options = [
            inspect.Parameter(
                option.name,
                inspect.Parameter.KEYWORD_ONLY,
                default=option.default if option.required else _config_value(option.default),
                annotation=Any,
            )
            for option in options_of(self._stage_factory()).values()
            if option.name not in ("nlp", "name")
        ]
        return inspect.Signature([*_FIXED, *options])

    def __call__(self, nlp: Language, name: str, **options: Any) -> StageComponent:
        path = f"components.{name}"
        factory = self._stage_factory(path)
        validated = validate_options(factory, options, path)
        try:
            stage = factory(**validated)
        except AsrPipelineError:
            raise
        except Exception as e:
            raise StageError(name, None, e) from e
        if not callable(stage):
            raise ConfigError(
                f"stage '{self.stage}' built {type(stage).__name__}, not a callable stage", path
            )
        return StageComponent(nlp, name, stage)

    def _stage_factory(self, path: str | None = None) -> Callable[..., Stage]:
        where = path or f"factory {self.component}"
        try:
            return stages.get(self.stage, where)
        except AsrPipelineError:
            raise
        except Exception as e:
            raise ConfigError(
                f"the asr-pipeline stage '{self.stage}' cannot be imported: "
                f"{type(e).__name__}: {e}",
                where,
            ) from e

    @contextmanager
    def _registering(self) -> Iterator[None]:
        # spaCy reads the signature at registration only to find ``nlp`` and ``name``; keeping it
        # bare then means importing this module never imports a stage.
        self._bare = True
        try:
            yield
        finally:
            self._bare = False

    def __repr__(self) -> str:
        return f"StageFactory({self.component!r}, stage={self.stage!r})"


def _config_value(value: Any) -> Any:
    """A default as spaCy's config can hold it (lists, not tuples; paths as strings)."""
    if isinstance(value, tuple):
        return [_config_value(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value


def register_factory(component: str, stage: str) -> StageFactory:
    """Register the spaCy factory ``component`` running the asr-pipeline stage ``stage``.

    Any registered stage works, plugins' included:
    ``register_factory("my_filter", "filter")`` then ``nlp.add_pipe("my_filter")``.
    """
    factory = StageFactory(component, stage)
    with factory._registering():
        Language.factory(component, retokenizes=True, func=factory)
    return factory


numbers_factory = register_factory("asr_numbers", "numbers")
casing_factory = register_factory("asr_casing", "casing")
punctuation_factory = register_factory("asr_punctuation", "punctuation")
