"""``asr-pipeline config init|show``: write the default config, show the effective one."""

from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml

from ..config import DEFAULT_PIPELINE, InputOptions, Option, options_of, summary_of
from ..io import atomic_write
from ..registry import stages as stage_registry
from ..registry import writers as writer_registry
from ..serve.settings import ServeOptions
from .describe import plain, yaml_value
from .options import (
    ConfigOption,
    DeviceOption,
    InputError,
    ModelOption,
    SetOption,
    StagesOption,
    VerboseOption,
    parse_stage_list,
    pipeline_config,
    reporting_errors,
    say,
)

__all__ = ["app", "default_config_yaml", "writer_defaults"]

app = typer.Typer(
    name="config", help="Write the default config or show the effective one.", no_args_is_help=True
)


def writer_defaults() -> dict[str, dict[str, Any]]:
    """Every available format's options with their defaults (formats that fail to load are left
    out)."""
    result = {}
    for fmt in writer_registry.names():
        try:
            writer = writer_registry.get(fmt)
        except Exception:
            continue
        result[fmt] = {o.name: o.default for o in options_of(writer).values() if not o.required}
    return result


def _option_lines(options: dict[str, Option], indent: str) -> list[str]:
    lines = []
    for option in options.values():
        if option.help:
            lines.append(f"{indent}# {option.help}")
        if option.required:
            lines.append(f"{indent}# {option.name}:   (required)")
        else:
            lines.append(f"{indent}{option.name}: {yaml_value(option.default)}")
    return lines


def default_config_yaml(pipeline: Sequence[str] = DEFAULT_PIPELINE) -> str:
    """The default config for ``pipeline`` with every option, commented with its help."""
    lines = [
        "# asr-pipeline configuration: every option with its default.",
        "# `asr-pipeline stages` lists every stage; `asr-pipeline config show -c FILE` checks one.",
        "",
        "# The stages to run, in order.",
        f"pipeline: {yaml_value(list(pipeline))}",
        "# Where models run (auto, cpu, cuda, cuda:N), for every stage that takes a device.",
        "device: null",
        "# A user vocabulary file, for every stage that takes one.",
        "vocabulary: null",
        "",
        f"# {summary_of(InputOptions)}",
        "input:",
        *_option_lines(options_of(InputOptions), "  "),
        "",
        f"# {summary_of(ServeOptions)}",
        "serve:",
        *_option_lines(options_of(ServeOptions), "  "),
        "",
        "stages:",
    ]
    for index, name in enumerate(pipeline):
        factory = stage_registry.get(name, f"pipeline[{index}]")
        lines += [f"  {name}:", f"    # {summary_of(factory)}"]
        lines += _option_lines(options_of(factory), "    ")
    others = [n for n in stage_registry.names() if n not in pipeline]
    if others:
        lines.append(f"  # Other stages you can add to the pipeline: {', '.join(others)}.")
    lines += ["", "# Options of each output format."]
    lines.append("writers:")
    for fmt in writer_registry.names():
        try:
            writer = writer_registry.get(fmt)
        except Exception:
            continue
        lines += [f"  {fmt}:", f"    # {summary_of(writer)}"]
        lines += _option_lines(options_of(writer), "    ")
    return "\n".join(lines) + "\n"


@app.command("init")
def init(
    path: Annotated[
        str,
        typer.Argument(metavar="PATH", help="Where to write it; - prints it instead."),
    ] = "asr-pipeline.yaml",
    stages: StagesOption = None,
    force: Annotated[bool, typer.Option("--force", help="Replace an existing file.")] = False,
    verbose: VerboseOption = False,
) -> None:
    """Write the default config with every option and its default, commented."""
    with reporting_errors(verbose):
        text = default_config_yaml(parse_stage_list(stages) or DEFAULT_PIPELINE)
        if path == "-":
            typer.echo(text, nl=False)
            return
        target = Path(path)
        if target.exists() and not force:
            raise InputError(f"{path}: already exists; --force replaces it")
        if target.is_dir() or not target.parent.is_dir():
            where = "is a folder" if target.is_dir() else f"no folder {target.parent}"
            raise InputError(f"{path}: cannot write the config here ({where})")
        with atomic_write(target) as fp:
            fp.write(text)
        say(f"wrote {path}")


@app.command("show")
def show(
    config: ConfigOption = None,
    set_: SetOption = None,
    stages: StagesOption = None,
    model: ModelOption = None,
    device: DeviceOption = None,
    verbose: VerboseOption = False,
) -> None:
    """Print the effective config (file and --set) with every default filled in."""
    with reporting_errors(verbose):
        data = pipeline_config(config, set_, stages, model, device).to_dict()
        data["writers"] = {**writer_defaults(), **data["writers"]}
        typer.echo(yaml.safe_dump(plain(data), sort_keys=False, allow_unicode=True), nl=False)
