"""``asr-pipeline stages``: every stage with its description and options."""

import typer

from ..config import options_of, summary_of
from ..registry import stages as stage_registry
from .describe import describe_option
from .options import VerboseOption, reporting_errors

__all__ = ["describe_stages", "stages"]


def describe_stages() -> list[str]:
    """Lines describing every known stage; one that fails to load is listed with its error."""
    lines: list[str] = []
    for name in stage_registry.names():
        try:
            origin = stage_registry.origin(name)
            factory = stage_registry.get(name)
            options = options_of(factory)
        except Exception as e:
            error = " ".join(str(e).split())
            lines += [f"{name} (failed to load): {type(e).__name__}: {error}", ""]
            continue
        lines.append(f"{name} ({origin}): {summary_of(factory)}")
        for option in options.values():
            line = f"    {describe_option(option)}"
            lines.append(f"{line}  # {option.help}" if option.help else line)
        lines.append("")
    return lines[:-1]


def stages(verbose: VerboseOption = False) -> None:
    """List every stage (built-in and from plugins) with its options and defaults."""
    with reporting_errors(verbose):
        typer.echo("\n".join(describe_stages()))
