"""The fillers plugin: matching, removing and marking hesitation sounds; its entry point."""

from __future__ import annotations

import doctest
import re
import sys
import textwrap
from importlib.metadata import PackageNotFoundError, distribution, entry_points
from pathlib import Path

import pytest
from typer.testing import CliRunner

from asr_pipeline import ConfigError, Pipeline, Segment, Transcript, Word
from asr_pipeline.cli import app
from asr_pipeline.config import resolve_config
from asr_pipeline.registry import stages as stage_registry

try:
    distribution("asr-pipeline-fillers")
    INSTALLED = True
except PackageNotFoundError:
    INSTALLED = False

needs_install = pytest.mark.skipif(
    not INSTALLED, reason="pip install -e plugins/asr-pipeline-fillers"
)
try:
    from asr_pipeline_fillers import FillersStage
except ImportError:  # not installed: test the logic from the source tree
    sys.path.insert(0, str(Path(__file__).parents[1] / "plugins" / "asr-pipeline-fillers"))
    from asr_pipeline_fillers import FillersStage


def clean(text: str, **options) -> str:
    return FillersStage(**options)(Transcript.from_text(text)).text


@pytest.mark.parametrize(
    "word", ["э", "ээ", "Эээээ", "э-э-э", "эм", "ээмм", "мм", "м-м-м", "ммм", "ну-у", "нууу", "а-а"]
)
def test_hesitations_are_found(word: str) -> None:
    assert FillersStage().is_filler(word)
    assert FillersStage().is_filler(f"«{word},")


@pytest.mark.parametrize("word", ["ну", "а", "м", "мэр", "эмоция", "мама", "эх", "", "—", "и"])
def test_real_words_are_kept(word: str) -> None:
    assert not FillersStage().is_filler(word)


def test_removal_keeps_the_timing_of_every_other_word() -> None:
    words = (
        Word("я", 0.0, 0.2, 0.9),
        Word("э", 0.3, 0.9, 0.4),
        Word("думаю", 1.0, 1.5, 0.8),
        Word("мм", 2.0, 2.4),
    )
    transcript = Transcript(segments=(Segment(0.0, 2.5, words), Segment(3.0, 3.5)), source="a")
    result = FillersStage()(transcript)
    assert result.segments[0].words == (words[0], words[2])
    assert result.segments[0].start == 0.0 and result.segments[0].end == 2.5
    assert result.segments[1] == transcript.segments[1]
    assert result.source == "a"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("я э думаю что мм да", "я думаю что да"),
        ("Я думаю, э.", "Я думаю."),
        ("Я думаю, ммм?", "Я думаю?"),
        ("Да. Э, конечно.", "Да. Конечно."),
        ("Э-э-э… Мы начнём.", "Мы начнём."),
        ("Ну, э, давайте.", "Ну, давайте."),
        ("Он сказал: «Э, да».", "Он сказал: «Да»."),
        ("Он сказал «да, э».", "Он сказал «да»."),
        ("Конец. Э.", "Конец."),
        ("Эм, ну-у, мм, хорошо", "Хорошо"),
        ("э", ""),
    ],
)
def test_removal_keeps_punctuation_and_capitals(text: str, expected: str) -> None:
    assert clean(text) == expected


def test_mark_mode_wraps_the_sound_and_keeps_punctuation() -> None:
    assert clean("Э, я ммм думаю.", mode="mark") == "(Э), я (ммм) думаю."
    assert clean("я ээ думаю", mode="mark", mark="[{}]") == "я [ээ] думаю"


def test_word_list_is_configurable() -> None:
    assert clean("хм я э думаю", words=["хм"]) == "я э думаю"
    assert clean("хм я э думаю", extra=["хм"]) == "я думаю"
    assert clean("я э думаю", words=[]) == "я э думаю"


def test_options_are_checked() -> None:
    with pytest.raises(ConfigError, match=r"stages\.fillers\.mark: must contain \{\}"):
        FillersStage(mark="()")
    with pytest.raises(ConfigError, match=r"stages\.fillers\.words\[1\]"):
        FillersStage(words=["э", "--"])


def test_unchanged_transcript_is_returned_as_is() -> None:
    transcript = Transcript.from_text("ничего лишнего")
    assert FillersStage()(transcript) is transcript


# ---------------------------------------------------------------- as an installed plugin


@needs_install
def test_discovered_through_its_entry_point() -> None:
    found = {ep.name: ep for ep in entry_points(group="asr_pipeline.stages")}
    assert found["fillers"].value == "asr_pipeline_fillers:FillersStage"
    assert stage_registry.origin("fillers") == "plugin asr-pipeline-fillers"
    assert stage_registry.get("fillers") is FillersStage


@needs_install
def test_config_validates_its_options() -> None:
    config = resolve_config({"pipeline": ["fillers"], "stages": {"fillers": {"mode": "mark"}}})
    assert config.stages["fillers"].options["mode"] == "mark"
    with pytest.raises(
        ConfigError, match=r"stages\.fillers\.mode: expected one of 'remove', 'mark'"
    ):
        resolve_config({"pipeline": ["fillers"], "stages": {"fillers": {"mode": "hide"}}})
    pipeline = Pipeline.from_config({"pipeline": ["fillers"]})
    assert pipeline(Transcript.from_text("я э да")).text == "я да"


@needs_install
def test_cli_lists_and_runs_it() -> None:
    runner = CliRunner()
    listed = runner.invoke(app, ["stages"])
    assert (
        "fillers (plugin asr-pipeline-fillers): Remove or mark Russian hesitation" in listed.stdout
    )
    assert "    mode: 'remove'|'mark' = remove" in listed.stdout
    result = runner.invoke(
        app, ["postprocess", "--stage", "fillers"], input="я э думаю\n\nЭ, да.\nмм\n"
    )
    assert result.exit_code == 0, result.output
    assert result.stdout == "я думаю\n\nДа.\n\n"
    marked = runner.invoke(
        app,
        ["postprocess", "--stage", "fillers", "--set", "stages.fillers.mode=mark"],
        input="э да",
    )
    assert marked.stdout == "(э) да\n"


def test_plugin_guide_examples_run() -> None:
    guide = (Path(__file__).parents[1] / "docs" / "plugins.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```pycon\n(.*?)```", guide, re.DOTALL)
    assert blocks
    for block in blocks:
        test = doctest.DocTestParser().get_doctest(
            textwrap.dedent(block), {}, "plugins.md", None, 0
        )
        runner = doctest.DocTestRunner()
        runner.run(test)
        assert runner.summarize(verbose=False).failed == 0
