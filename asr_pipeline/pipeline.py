"""The pipeline: named stages run in order over transcripts."""

from __future__ import annotations

import dataclasses
import datetime as _dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .config import (
    InputOptions,
    PipelineConfig,
    StageSpec,
    load_config,
    resolve_config,
    validate_options,
)
from .errors import AsrPipelineError, ConfigError, StageError, UnknownNameError
from .registry import stages as stage_registry
from .types import Audio, Metadata, Segment, Stage, Transcript

__all__ = ["Pipeline"]

Source = str | Path | Audio | Transcript


class Pipeline:
    """Named stages applied in order: ``Transcript -> Transcript``.

    A pipeline may be shared by threads: calls running at once give the same transcripts as
    sequential calls (stages keep no per-call state; see docs/architecture.md, "Threads").

    >>> from asr_pipeline import Pipeline, Transcript
    >>> pipe = Pipeline().add_stage("numbers")
    >>> pipe(Transcript.from_text("ему было сорок два года")).text
    'ему было 42 года'
    """

    def __init__(self, config: PipelineConfig | None = None) -> None:
        self._stages: list[tuple[str, Stage]] = []
        self._specs: dict[str, StageSpec] = {}
        self.input = config.input if config else InputOptions()
        self.writers: dict[str, dict[str, Any]] = dict(config.writers) if config else {}
        self._config = config
        if config is not None:
            for name in config.pipeline:
                spec = config.stages[name]
                self._append(name, self._build(spec), spec)

    # ------------------------------------------------------------ construction

    @classmethod
    def from_config(
        cls,
        config: str | Path | Mapping[str, Any] | PipelineConfig | None = None,
        *,
        overrides: Sequence[str] = (),
        stages: Sequence[str] | None = None,
    ) -> Pipeline:
        """Build from a YAML path or a mapping, with ``a.b=c`` overrides.

        ``stages`` replaces the config's ``pipeline`` list (run only these, in this order; a
        string is one name or comma-separated names). A string as ``overrides`` is one override.
        Every option is validated before any stage is built.
        """
        if not isinstance(config, PipelineConfig):
            # One string is one item (stages: also "vad,ctc"), never a sequence of letters.
            data = load_config(config, [overrides] if isinstance(overrides, str) else overrides)
            if stages is not None:
                data["pipeline"] = stages if isinstance(stages, str) else list(stages)
            config = resolve_config(data)
        return cls(config)

    @classmethod
    def default(cls, **stage_options: Mapping[str, Any]) -> Pipeline:
        """The default pipeline; keyword arguments give options per stage.

        ``Pipeline.default(ctc={"model": "path/to/model"}, numbers={"style": "digits"})``
        """
        return cls.from_config({"stages": {k: dict(v) for k, v in stage_options.items()}})

    def add_stage(
        self,
        factory: str | Stage,
        name: str | None = None,
        *,
        config: Mapping[str, Any] | None = None,
        before: str | None = None,
        after: str | None = None,
    ) -> Pipeline:
        """Add a stage by factory name (with options), or a ready stage object with a name.

        Returns the pipeline, so calls chain.
        """
        if isinstance(factory, str):
            name = name or factory
            fn = stage_registry.get(factory)
            options = validate_options(fn, dict(config or {}), f"stages.{name}")
            spec = StageSpec(name, factory, options)
            stage = self._build(spec)
        else:
            if name is None:
                raise ConfigError("a stage object needs a name: add_stage(stage, 'name')")
            if config:
                raise ConfigError("options apply to factory names, not to stage objects")
            if not callable(factory):
                raise ConfigError(f"a stage must be callable, got {type(factory).__name__}")
            stage, spec = factory, StageSpec(name, type(factory).__name__, {})
        self._append(name, stage, spec, before=before, after=after)
        return self

    def _append(
        self,
        name: str,
        stage: Stage,
        spec: StageSpec,
        *,
        before: str | None = None,
        after: str | None = None,
    ) -> None:
        if name in self._specs:
            raise ConfigError(f"the pipeline already has a stage named '{name}'")
        if before is not None and after is not None:
            raise ConfigError("give either before= or after=, not both")
        index = len(self._stages)
        anchor = before or after
        if anchor is not None:
            if anchor not in self._specs:
                raise UnknownNameError("stage", anchor, self.stage_names)
            index = self.stage_names.index(anchor) + (1 if after else 0)
        self._stages.insert(index, (name, stage))
        self._specs[name] = spec
        self._config = None

    @staticmethod
    def _build(spec: StageSpec) -> Stage:
        factory = stage_registry.get(spec.factory)
        try:
            stage = factory(**spec.options)
        except AsrPipelineError:
            raise
        except Exception as e:
            raise StageError(spec.name, None, e) from e
        if not callable(stage):
            raise ConfigError(
                f"factory '{spec.factory}' returned {type(stage).__name__}, not a callable stage",
                f"stages.{spec.name}",
            )
        return stage

    # ------------------------------------------------------------ inspection

    @property
    def stage_names(self) -> list[str]:
        return [name for name, _ in self._stages]

    def get_stage(self, name: str) -> Stage:
        for stage_name, stage in self._stages:
            if stage_name == name:
                return stage
        raise UnknownNameError("stage", name, self.stage_names)

    @property
    def config(self) -> PipelineConfig:
        """The effective configuration of this pipeline."""
        if self._config is None:
            self._config = PipelineConfig(
                pipeline=tuple(self.stage_names),
                stages=dict(self._specs),
                input=self.input,
                writers=self.writers,
            )
        return self._config

    def __repr__(self) -> str:
        return f"Pipeline({self.stage_names})"

    # ------------------------------------------------------------ running

    def load(self, source: str | Path | Audio) -> Transcript:
        """An empty transcript for a source: one segment over the whole audio, or one per
        channel (``input.channels``), ready for the stages."""
        audio = source if isinstance(source, Audio) else Audio.open(source)
        end = audio.duration
        if self.input.channels and audio.channels > 1:
            names = list(self.input.speakers or [])
            names += [f"Спикер {i + 1}" for i in range(len(names), audio.channels)]
            segments = tuple(
                Segment(0.0, end, speaker=names[c], channel=c) for c in range(audio.channels)
            )
        else:
            segments = (Segment(0.0, end),) if end > 0 else ()
        created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
        return Transcript(
            segments=segments,
            source=audio.source,
            duration=audio.duration,
            metadata=Metadata(version=__version__, created=created),
            audio=audio,
        )

    def __call__(self, source: Source) -> Transcript:
        """Run every stage over one source (a path, an :class:`Audio` or a transcript)."""
        transcript = source if isinstance(source, Transcript) else self.load(source)
        for name, stage in self._stages:
            transcript = self._run(name, lambda ts, s=stage: [s(ts[0])], [transcript])[0]
        return self._stamp(transcript)

    def pipe(self, sources: Iterable[Source], *, batch_size: int = 1) -> Iterator[Transcript]:
        """Run over many sources, yielding transcripts in order.

        Stages with a ``pipe`` method get ``batch_size`` transcripts at a time.
        """
        batch: list[Source] = []
        for source in sources:
            batch.append(source)
            if len(batch) >= batch_size:
                yield from self._run_batch(batch)
                batch = []
        if batch:
            yield from self._run_batch(batch)

    def _run_batch(self, sources: list[Source]) -> list[Transcript]:
        transcripts = [s if isinstance(s, Transcript) else self.load(s) for s in sources]
        for name, stage in self._stages:
            batched = getattr(stage, "pipe", None)
            if batched is not None and len(transcripts) > 1:
                transcripts = self._run(name, lambda ts, b=batched: list(b(ts)), transcripts)
            else:
                transcripts = [
                    self._run(name, lambda ts, s=stage: [s(ts[0])], [t])[0] for t in transcripts
                ]
        return [self._stamp(t) for t in transcripts]

    def _run(
        self,
        name: str,
        fn: Callable[[list[Transcript]], list[Transcript]],
        transcripts: list[Transcript],
    ) -> list[Transcript]:
        sources = ", ".join(str(t.source) for t in transcripts if t.source) or None
        try:
            results = fn(transcripts)
        except AsrPipelineError as e:
            if isinstance(e, StageError):
                raise
            raise StageError(name, sources, e) from e
        except Exception as e:
            raise StageError(name, sources, e) from e
        if len(results) != len(transcripts) or not all(isinstance(t, Transcript) for t in results):
            got = ", ".join(type(t).__name__ for t in results)
            raise StageError(name, sources, TypeError(f"expected Transcript, got {got}"))
        return results

    def _stamp(self, transcript: Transcript) -> Transcript:
        meta = dataclasses.replace(
            transcript.metadata,
            version=transcript.metadata.version or __version__,
            stages=tuple(self.stage_names),
            config_hash=self.config.hash,
        )
        return dataclasses.replace(transcript, metadata=meta)
