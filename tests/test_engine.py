"""The engine: config validation, registry, entry points, Pipeline, JSON, errors, imports."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from dataclasses import replace
from typing import Literal

import numpy as np
import pytest

from asr_pipeline import (
    Audio,
    ConfigError,
    Pipeline,
    Segment,
    StageError,
    Transcript,
    UnknownNameError,
    Word,
    register_stage,
)
from asr_pipeline.config import load_config, resolve_config, set_option
from asr_pipeline.registry import stages as stage_registry


class Upper:
    """Upper-case every word.

    Options:
        suffix: text appended to every word.
        times: how many copies of the suffix.
    """

    def __init__(self, *, suffix: str = "", times: int = 1) -> None:
        self.suffix = suffix * times

    def __call__(self, transcript: Transcript) -> Transcript:
        return transcript.with_texts([w.text.upper() + self.suffix for w in transcript.words])


class Tuned:
    """A stage with typed options of every supported kind."""

    def __init__(
        self,
        *,
        rate: float = 1.0,
        mode: Literal["fast", "slow"] = "fast",
        flag: bool = False,
        limit: int | None = None,
        names: list[str] | None = None,
        device: str = "auto",
    ) -> None:
        self.options = dict(
            rate=rate, mode=mode, flag=flag, limit=limit, names=names, device=device
        )

    def __call__(self, transcript: Transcript) -> Transcript:
        return transcript


class Broken:
    """Always fails."""

    def __call__(self, transcript: Transcript) -> Transcript:
        raise RuntimeError("boom")


class NotAStage:
    """Returns the wrong type."""

    def __call__(self, transcript: Transcript) -> str:
        return "oops"


@pytest.fixture(autouse=True)
def local_stages():
    names = {"upper": Upper, "tuned": Tuned, "broken": Broken, "not_a_stage": NotAStage}
    for name, factory in names.items():
        register_stage(name)(factory)
    yield
    for name in names:
        stage_registry.unregister(name)


def timed(*texts: str, start: float = 0.0) -> Transcript:
    words = tuple(Word(t, start + i, start + i + 0.5, 0.9) for i, t in enumerate(texts))
    return Transcript((Segment(start, start + len(texts), words),), source="mem.wav", duration=10.0)


# ---------------------------------------------------------------- config


def test_unknown_stage_in_pipeline_suggests_a_name():
    with pytest.raises(UnknownNameError) as info:
        resolve_config({"pipeline": ["uper"]})
    message = str(info.value)
    assert "pipeline[0]" in message
    assert "Did you mean 'upper'?" in message
    assert "numbers" in message  # known names are listed


def test_unknown_factory_names_its_path():
    with pytest.raises(UnknownNameError) as info:
        resolve_config({"pipeline": ["a"], "stages": {"a": {"factory": "tunned"}}})
    assert str(info.value).startswith(
        "stages.a.factory: unknown stage 'tunned'. Did you mean 'tuned'?"
    )


def test_bad_option_value_names_path_and_expectation():
    with pytest.raises(ConfigError) as info:
        resolve_config({"pipeline": ["tuned"], "stages": {"tuned": {"rate": "twenty"}}})
    assert str(info.value) == "stages.tuned.rate: expected a number, got 'twenty'"


def test_unknown_option_is_an_error_not_ignored():
    with pytest.raises(UnknownNameError) as info:
        resolve_config({"pipeline": ["tuned"], "stages": {"tuned": {"rat": 2}}})
    assert "stages.tuned.rat" in str(info.value)
    assert "Did you mean 'rate'?" in str(info.value)


@pytest.mark.parametrize(
    ("option", "value", "expected"),
    [
        ("mode", "medium", "expected one of 'fast', 'slow', got 'medium'"),
        ("flag", "yes", "expected true or false, got 'yes'"),
        ("limit", 2.5, "expected a whole number"),
        ("names", "a", "expected a list"),
    ],
)
def test_typed_options_are_checked(option, value, expected):
    with pytest.raises(ConfigError, match=expected):
        resolve_config({"pipeline": ["tuned"], "stages": {"tuned": {option: value}}})


def test_defaults_are_filled_and_values_coerced():
    config = resolve_config({"pipeline": ["tuned"], "stages": {"tuned": {"rate": 2, "limit": 3.0}}})
    options = config.stages["tuned"].options
    assert options == {
        "rate": 2.0,
        "mode": "fast",
        "flag": False,
        "limit": 3,
        "names": None,
        "device": "auto",
    }
    assert isinstance(options["rate"], float)


def test_one_factory_under_two_names():
    config = resolve_config(
        {
            "pipeline": ["loud", "louder"],
            "stages": {"loud": {"factory": "upper"}, "louder": {"factory": "upper", "suffix": "!"}},
        }
    )
    pipeline = Pipeline.from_config(config)
    assert pipeline.stage_names == ["loud", "louder"]
    assert pipeline(timed("да", "нет")).text == "ДА! НЕТ!"


def test_shared_device_reaches_stages_that_take_it():
    config = resolve_config({"pipeline": ["tuned", "upper"], "device": "cpu"})
    assert config.stages["tuned"].options["device"] == "cpu"
    assert "device" not in config.stages["upper"].options
    explicit = resolve_config(
        {"pipeline": ["tuned"], "device": "cpu", "stages": {"tuned": {"device": "cuda"}}}
    )
    assert explicit.stages["tuned"].options["device"] == "cuda"


def test_set_overrides_parse_yaml_values(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("pipeline: [tuned]\nstages:\n  tuned: {rate: 0.5}\n", encoding="utf-8")
    data = load_config(
        path, ["stages.tuned.rate=0.25", "stages.tuned.flag=true", "stages.tuned.names=[a, b]"]
    )
    options = resolve_config(data).stages["tuned"].options
    assert (options["rate"], options["flag"], options["names"]) == (0.25, True, ["a", "b"])


def test_bad_set_syntax_and_bad_files(tmp_path):
    with pytest.raises(ConfigError, match="expected KEY.PATH=VALUE"):
        set_option({}, "stages.vad.threshold")
    with pytest.raises(ConfigError, match="config file: no such file: .*missing.yaml"):
        load_config(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("pipeline: [a\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(bad)
    listed = tmp_path / "list.yaml"
    listed.write_text("- a\n- b\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="expected a mapping at the top"):
        load_config(listed)


def test_yaml_is_loaded_safely(tmp_path):
    path = tmp_path / "evil.yaml"
    path.write_text("pipeline: !!python/object/apply:os.system ['echo hacked']\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config(path)


def test_unknown_top_level_key():
    with pytest.raises(UnknownNameError, match="Did you mean 'stages'"):
        resolve_config({"stage": {}})


def test_config_hash_changes_with_options():
    a = resolve_config({"pipeline": ["tuned"]})
    b = resolve_config({"pipeline": ["tuned"], "stages": {"tuned": {"rate": 3}}})
    assert a.hash == resolve_config({"pipeline": ["tuned"]}).hash
    assert a.hash != b.hash


# ---------------------------------------------------------------- registry


def test_listing_stages_imports_nothing():
    code = (
        "import sys; from asr_pipeline.registry import stages, writers; "
        "names = stages.names() + writers.names(); "
        "bad = [m for m in ('asr_pipeline.vad', 'asr_pipeline.ctc', 'postprocess.numbers', "
        "'postprocess.punctuation', 'postprocess.casing', 'asr_pipeline.writers') "
        "if m in sys.modules]; "
        "print(sorted(names)); assert not bad, bad"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    for name in ("vad", "ctc", "numbers", "punctuation", "casing", "srt", "json"):
        assert f"'{name}'" in out.stdout


def test_registering_a_different_object_under_a_taken_name_is_refused():
    with pytest.raises(ConfigError, match="already registered"):
        register_stage("upper")(Tuned)
    assert register_stage("upper")(Upper) is Upper  # the same object again is fine


def test_entry_point_plugins_are_discovered(tmp_path, monkeypatch):
    package = tmp_path / "demo_plugin"
    package.mkdir()
    (package / "__init__.py").write_text(
        textwrap.dedent(
            '''
            class Reverse:
                """Reverse every word."""

                def __call__(self, transcript):
                    return transcript.with_texts([w.text[::-1] for w in transcript.words])
            '''
        ),
        encoding="utf-8",
    )
    info = tmp_path / "demo_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: demo-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[asr_pipeline.stages]\nreverse = demo_plugin:Reverse\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    assert "reverse" in stage_registry.names()
    assert stage_registry.origin("reverse") == "plugin demo-plugin"
    assert "demo_plugin" not in sys.modules  # listed, not imported
    pipeline = Pipeline.from_config({"pipeline": ["reverse"]})
    assert pipeline(timed("кот")).text == "ток"


# ---------------------------------------------------------------- pipeline


def test_pipeline_runs_stages_in_order_and_keeps_timing():
    pipeline = (
        Pipeline()
        .add_stage("upper", config={"suffix": "!"})
        .add_stage("upper", "twice", config={"suffix": "?"})
    )
    result = pipeline(timed("раз", "два"))
    assert result.text == "РАЗ!? ДВА!?"
    assert [(w.start, w.end, w.score) for w in result.words] == [(0, 0.5, 0.9), (1, 1.5, 0.9)]
    assert result.metadata.stages == ("upper", "twice")
    assert result.metadata.config_hash == pipeline.config.hash


def test_add_stage_before_and_after():
    pipeline = Pipeline().add_stage("upper", "a").add_stage("tuned", "c")
    pipeline.add_stage("tuned", "b", before="c").add_stage("upper", "d", after="a")
    assert pipeline.stage_names == ["a", "d", "b", "c"]
    with pytest.raises(ConfigError, match="already has a stage named 'a'"):
        pipeline.add_stage("upper", "a")


def test_add_stage_object_needs_a_name():
    stage = Upper(suffix=".")
    with pytest.raises(ConfigError, match="needs a name"):
        Pipeline().add_stage(stage)
    assert Pipeline().add_stage(stage, "dot")(timed("да")).text == "ДА."


def test_stage_error_names_stage_and_source_and_chains_the_cause():
    pipeline = Pipeline().add_stage("upper").add_stage("broken")
    with pytest.raises(StageError) as info:
        pipeline(timed("да"))
    error = info.value
    assert (error.stage, error.source) == ("broken", "mem.wav")
    assert "stage 'broken' failed on mem.wav: RuntimeError: boom" == str(error)
    assert isinstance(error.__cause__, RuntimeError)


def test_a_stage_returning_the_wrong_type_is_caught():
    with pytest.raises(StageError, match="expected Transcript, got str"):
        Pipeline().add_stage("not_a_stage")(timed("да"))


def test_pipe_yields_in_order_and_uses_batched_pipe():
    calls = []

    class Batched(Upper):
        def pipe(self, transcripts):
            calls.append(len(transcripts))
            return [self(t) for t in transcripts]

    pipeline = Pipeline().add_stage(Batched(), "batched")
    results = list(pipeline.pipe([timed(t) for t in ("а", "б", "в")], batch_size=2))
    assert [r.text for r in results] == ["А", "Б", "В"]
    assert calls == [2]  # the lone last transcript goes through __call__


def test_load_makes_one_segment_or_one_per_channel():
    stereo = Audio.from_array(np.zeros((2, 32_000), dtype=np.float32))
    plain = Pipeline().load(stereo)
    assert [(s.start, s.end, s.channel) for s in plain.segments] == [(0.0, 2.0, None)]
    per_channel = Pipeline.from_config(
        {"pipeline": [], "input": {"channels": True, "speakers": ["Оператор"]}}
    ).load(stereo)
    assert [(s.speaker, s.channel) for s in per_channel.segments] == [
        ("Оператор", 0),
        ("Спикер 2", 1),
    ]


def test_pipeline_default_takes_stage_options():
    with pytest.raises(ConfigError, match="stages.numbers.style"):
        Pipeline.default(numbers={"style": 5})


# ---------------------------------------------------------------- data model


def test_json_round_trip_is_exact():
    transcript = Transcript(
        segments=(
            Segment(0.5, 2.25, (Word("двадцать", 0.5, 1.0, 0.875), Word("25", 1.0, 2.25, None))),
            Segment(3.0, 4.0, (), speaker="Клиент", channel=1),
        ),
        source="a.wav",
        duration=4.5,
    )
    transcript = replace(
        transcript,
        metadata=replace(
            transcript.metadata, model="m", revision="abc", stages=("vad", "ctc"), extra={"k": [1]}
        ),
    )
    text = transcript.to_json()
    assert json.loads(text)["schema"] == 1
    again = Transcript.from_json(text)
    assert again == transcript
    assert again.to_json() == text


def test_from_json_refuses_other_schemas():
    with pytest.raises(ValueError, match="schema"):
        Transcript.from_json('{"schema": 99}')


def test_word_merge_spans_first_to_last():
    merged = Word.merge([Word("a", 1.0, 1.5, 0.9), Word("b", 1.6, 2.0, 0.7)], "ab")
    assert merged == Word("ab", 1.0, 2.0, 0.7)


def test_audio_from_array_blocks_and_read():
    samples = np.arange(48_000, dtype=np.float32) / 48_000
    audio = Audio.from_array(samples)
    blocks = list(audio.blocks(1.0, start=0.5))
    assert [t for t, _ in blocks] == [0.5, 1.5, 2.5]
    assert sum(len(b) for _, b in blocks) == 40_000
    np.testing.assert_array_equal(audio.read(1.0, 1.5), samples[16_000:24_000])


# ---------------------------------------------------------------- imports


def test_import_does_not_pull_torch_or_transformers():
    code = (
        "import sys, asr_pipeline, postprocess; "
        "from asr_pipeline.registry import stages; from asr_pipeline.config import options_of; "
        "[options_of(stages.get(n)) for n in ('numbers', 'casing', 'punctuation', 'vad', 'ctc')]; "
        "heavy = [m for m in ('torch', 'transformers', 'onnxruntime', 'silero_vad') "
        "if m in sys.modules]; "
        "assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
