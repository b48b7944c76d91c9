"""docs/config.md is generated from the registry; it must match the code."""

from pathlib import Path

from asr_pipeline.config import options_of
from asr_pipeline.reference import config_reference
from asr_pipeline.registry import BUILTIN_STAGES
from asr_pipeline.registry import stages as stage_registry

DOC = Path(__file__).resolve().parents[1] / "docs" / "config.md"


def test_config_reference_matches_the_code():
    assert DOC.read_text(encoding="utf-8") == config_reference(), (
        "docs/config.md is out of date: python -m asr_pipeline.reference > docs/config.md"
    )


def test_every_builtin_option_is_documented():
    text = DOC.read_text(encoding="utf-8")
    for name in BUILTIN_STAGES:
        assert f"### `{name}`" in text
        for option in options_of(stage_registry.get(name)).values():
            assert option.help, f"stages.{name}.{option.name} has no help text in its docstring"
            assert f"| `{option.name}` |" in text


def test_option_help_is_inherited_and_a_subclass_may_reword_it():
    class Base:
        """A base.

        Options:
            size: how big.
            color: which color.
        """

        def __init__(self, *, size: int = 1, color: str = "red") -> None: ...

    class Child(Base):
        """A child.

        Options:
            color: the child's own words.
        """

    options = options_of(Child)
    assert options["size"].help == "how big."
    assert options["color"].help == "the child's own words."
    assert options_of(Base)["color"].help == "which color."
