"""The configuration reference (docs/config.md), generated from the registry so it cannot drift.

Regenerate with ``python -m asr_pipeline.reference > docs/config.md``.
"""

from __future__ import annotations

import inspect
import json
import typing
from typing import Any

from .config import DEFAULT_PIPELINE, InputOptions, options_of, summary_of
from .registry import BUILTIN_STAGES, BUILTIN_WRITERS
from .registry import stages as stage_registry
from .registry import writers as writer_registry
from .serve.settings import ServeOptions

__all__ = ["config_reference", "format_default", "format_type"]

HEADER = """# Configuration reference

Generated from the stage and writer registries by `python -m asr_pipeline.reference`; a test
fails when this file and the code disagree. Options are set in the config file under
`stages.<name>`, or on the command line with `--set stages.<name>.<option>=<value>`.

```yaml
pipeline: [{pipeline}]
device: auto          # handed to every stage that has a `device` option
vocabulary: null      # a user vocabulary file, handed to every stage that has a `vocabulary` option
input: {{channels: false, speakers: null}}
stages:
  ctc: {{model: jonatasgrosman/wav2vec2-large-xlsr-53-russian}}
writers:
  txt: {{}}
```
"""


def format_default(value: Any) -> str:
    if value is inspect.Parameter.empty:
        return "(required)"
    return json.dumps(value, ensure_ascii=False, default=str)


def format_type(hint: Any) -> str:
    if hint is Any:
        return "any"
    if typing.get_origin(hint) is typing.Literal:
        return " \\| ".join(json.dumps(a, ensure_ascii=False) for a in typing.get_args(hint))
    name = getattr(hint, "__name__", None)
    if name and not typing.get_args(hint):
        return name
    return str(hint).replace("typing.", "").replace("|", "\\|")


def _table(factory: Any) -> list[str]:
    options = options_of(factory)
    if not options:
        return ["No options.", ""]
    lines = ["| option | type | default | meaning |", "|---|---|---|---|"]
    for option in options.values():
        lines.append(
            f"| `{option.name}` | {format_type(option.annotation)} | "
            f"`{format_default(option.default)}` | {option.help} |"
        )
    return [*lines, ""]


def config_reference() -> str:
    """Markdown for every built-in stage, writer and the input section."""
    lines = [HEADER.format(pipeline=", ".join(DEFAULT_PIPELINE)), "## Stages", ""]
    for name in BUILTIN_STAGES:
        factory = stage_registry.get(name)
        lines += [f"### `{name}`", "", summary_of(factory), "", *_table(factory)]
    lines += ["## Input", "", summary_of(InputOptions), "", *_table(InputOptions)]
    lines += ["## Serve", "", summary_of(ServeOptions), "", *_table(ServeOptions), "## Writers", ""]
    for name in BUILTIN_WRITERS:
        try:
            writer = writer_registry.get(name)
        except (ImportError, AttributeError):
            continue
        lines += [f"### `{name}`", "", summary_of(writer), "", *_table(writer)]
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(config_reference(), end="")
