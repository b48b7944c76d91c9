"""Options shared by every command that runs a pipeline, and the error/warning policy.

A command takes the pipeline options as parameters typed with the aliases below and hands them
to :func:`build_pipeline` (or :func:`pipeline_config`), so ``-c/--config``, ``--set``,
``--stages``, ``--model`` and ``--device`` mean the same everywhere::

    @app.command()
    def mine(config: ConfigOption = None, set_: SetOption = None, stages: StagesOption = None,
             model: ModelOption = None, device: DeviceOption = None,
             verbose: VerboseOption = False) -> None:
        with reporting_errors(verbose):
            pipeline = build_pipeline(config, set_, stages, model, device)
"""

import contextlib
import json
import os
import re
import traceback
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any

import click
import typer

from ..config import DEFAULT_PIPELINE, PipelineConfig, load_config, resolve_config
from ..errors import AsrPipelineError, AsrPipelineWarning, ConfigError, OutputError
from ..pipeline import Pipeline

__all__ = [
    "ConfigOption",
    "DeviceOption",
    "InputError",
    "ModelOption",
    "SetOption",
    "StagesOption",
    "VerboseOption",
    "VocabularyOption",
    "build_pipeline",
    "config_data",
    "parse_stage_list",
    "pipeline_config",
    "reporting_errors",
    "say",
]

PANEL = "Pipeline options"

ConfigOption = Annotated[
    Path | None,
    typer.Option("--config", "-c", metavar="FILE", help="YAML config file.", rich_help_panel=PANEL),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        metavar="KEY.PATH=VALUE",
        help="Override one config value, e.g. stages.vad.threshold=0.4 (repeatable).",
        rich_help_panel=PANEL,
    ),
]
StagesOption = Annotated[
    str | None,
    typer.Option(
        "--stages",
        metavar="NAMES",
        help="Run only these stages, in this order, e.g. vad,ctc,numbers.",
        rich_help_panel=PANEL,
    ),
]
ModelOption = Annotated[
    str | None,
    typer.Option(
        "--model",
        metavar="ID_OR_FOLDER",
        help="The ctc stage's model: a model ID or a local folder (sets stages.ctc.model).",
        rich_help_panel=PANEL,
    ),
]
DeviceOption = Annotated[
    str | None,
    typer.Option(
        "--device",
        metavar="auto|cpu|cuda",
        help="Where models run: auto, cpu, cuda or cuda:N (sets device).",
        rich_help_panel=PANEL,
    ),
]
VocabularyOption = Annotated[
    Path | None,
    typer.Option(
        "--vocabulary",
        metavar="FILE",
        help="Your terms, one per line, written as they should appear (names, brands): "
        "casing copies them, beam search favours them (sets vocabulary).",
        rich_help_panel=PANEL,
    ),
]
VerboseOption = Annotated[
    bool,
    typer.Option("--verbose", "-v", help="Show tracebacks and library warnings."),
]

_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


class InputError(AsrPipelineError):
    """An input that does not exist, matches nothing, or clashes with another input."""


# ---------------------------------------------------------------- building


def parse_stage_list(
    stages: str | Sequence[str] | None, path: str = "--stages"
) -> list[str] | None:
    """``"vad,ctc,numbers"`` (or a list) as stage names; None when not given."""
    if stages is None:
        return None
    items = stages.split(",") if isinstance(stages, str) else list(stages)
    names = [s.strip() for s in items if s.strip()]
    if not names:
        raise ConfigError("give at least one stage name, e.g. vad,ctc,numbers", path)
    return names


def config_data(
    config: str | Path | None = None,
    set_: Sequence[str] | None = None,
    stages: str | Sequence[str] | None = None,
    model: str | None = None,
    device: str | None = None,
    vocabulary: str | Path | None = None,
) -> dict[str, Any]:
    """The raw config (file, then ``--set``, then ``--model``/``--device``/``--vocabulary``,
    then ``--stages``)."""
    overrides = list(set_ or ())
    if vocabulary is not None:
        if not Path(vocabulary).is_file():
            raise InputError(f"--vocabulary: no such file: {vocabulary}")
        overrides.append(f"vocabulary={json.dumps(str(vocabulary), ensure_ascii=False)}")
    if device is not None:
        if not _DEVICE.fullmatch(device):
            raise ConfigError(f"expected auto, cpu, cuda or cuda:N, got '{device}'", "--device")
        overrides.append(f"device={device}")
    if model is not None:
        if not model.strip():
            raise ConfigError("expected a model ID or folder", "--model")
        overrides.append(f"stages.ctc.model={json.dumps(model, ensure_ascii=False)}")
    data = load_config(config, overrides)
    names = parse_stage_list(stages)
    if names is not None:
        data["pipeline"] = names
    return data


def pipeline_config(
    config: str | Path | None = None,
    set_: Sequence[str] | None = None,
    stages: str | Sequence[str] | None = None,
    model: str | None = None,
    device: str | None = None,
    vocabulary: str | Path | None = None,
) -> PipelineConfig:
    """The validated effective config, defaults filled in; builds no model."""
    return resolve_config(config_data(config, set_, stages, model, device, vocabulary))


def build_pipeline(
    config: str | Path | None = None,
    set_: Sequence[str] | None = None,
    stages: str | Sequence[str] | None = None,
    model: str | None = None,
    device: str | None = None,
    vocabulary: str | Path | None = None,
) -> Pipeline:
    """A pipeline from the command-line options (every option is checked before any build)."""
    return Pipeline(pipeline_config(config, set_, stages, model, device, vocabulary))


def text_stage_names(data: Mapping[str, Any]) -> list[str]:
    """The config's text stages: those after the last audio stage (``vad``/``ctc`` factories)."""
    pipeline = data.get("pipeline", DEFAULT_PIPELINE)
    if isinstance(pipeline, str):
        pipeline = [p.strip() for p in pipeline.split(",") if p.strip()]
    entries = data.get("stages") or {}

    def factory(name: str) -> Any:
        entry = entries.get(name) if isinstance(entries, Mapping) else None
        return entry.get("factory", name) if isinstance(entry, Mapping) else name

    audio = [i for i, name in enumerate(pipeline) if factory(name) in ("vad", "ctc")]
    return list(pipeline[audio[-1] + 1 :] if audio else pipeline)


# ---------------------------------------------------------------- errors and output


def say(message: str) -> None:
    """One line for the user, on stderr."""
    typer.echo(message, err=True)


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


def _show_warning(message: Any, category: type, filename: str, lineno: int, *_: Any) -> None:
    if issubclass(category, AsrPipelineWarning):
        say(f"warning: {message}")
    else:
        say(f"warning: {category.__name__}: {message} ({filename}:{lineno})")


@contextlib.contextmanager
def reporting_errors(verbose: bool = False) -> Iterator[None]:
    """Run a command body: an error becomes one line on stderr and a non-zero exit
    (2 for bad options or inputs, 1 otherwise); ``verbose`` adds the traceback.

    Library warnings are hidden unless ``verbose``.
    """
    if not verbose:
        os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    with warnings.catch_warnings():
        warnings.simplefilter("default" if verbose else "ignore")
        warnings.simplefilter("always", AsrPipelineWarning)  # about the user's input: shown
        warnings.showwarning = _show_warning
        try:
            yield
        except (click.exceptions.Exit, click.exceptions.ClickException, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            say("interrupted")
            raise typer.Exit(130) from None
        except AsrPipelineError as e:
            if verbose:
                traceback.print_exc()
            say(f"error: {_one_line(e)}")
            bad_input = (ConfigError, InputError, OutputError)
            raise typer.Exit(2 if isinstance(e, bad_input) else 1) from None
        except Exception as e:
            if verbose:
                traceback.print_exc()
                say(f"error: {type(e).__name__}: {_one_line(e)}")
            else:
                say(f"error: {type(e).__name__}: {_one_line(e)} (--verbose shows the traceback)")
            raise typer.Exit(1) from None
