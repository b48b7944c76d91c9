"""The ``diarize`` stage, the ``rttm`` writer and DER in ``eval``.

Mechanics run on tone "speech" with an injected embedding model (``tests/diarize_fakes.py``,
through the speaker-embedding registry and its entry-point group); the pyannote backend runs
against a fake ``pyannote.audio`` module; Resemblyzer runs for real on espeak-ng dialogues.
"""

from __future__ import annotations

import io
import json
import shutil
import sys
import types
from importlib.metadata import EntryPoint
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from asr_pipeline import Pipeline, Transcript
from asr_pipeline.cli import app
from asr_pipeline.diarize import DiarizeStage
from asr_pipeline.diarize.splitting import windows
from asr_pipeline.errors import ConfigError, ModelError, UnknownNameError
from asr_pipeline.evaluate import read_rttm, speaker_counts
from asr_pipeline.registry import speaker_embeddings
from asr_pipeline.types import Audio, Segment, Word
from asr_pipeline.writers import RttmWriter
from tests.diarize_fakes import ToneEmbedder, tone_speech

runner = CliRunner()


@pytest.fixture(autouse=True)
def tones():
    speaker_embeddings.register("tones", ToneEmbedder)
    yield
    speaker_embeddings.unregister("tones")


def worded(turns, **options) -> tuple[Transcript, list[Word], list[int]]:
    """A transcript as ``ctc`` leaves it: one segment over tone speech, with its words."""
    samples, words, owners = tone_speech(turns, **options)
    audio = Audio.from_array(samples, source="tones.wav")
    segment = Segment(0.0, audio.duration, tuple(words))
    return Transcript((segment,), "tones.wav", audio.duration, audio=audio), words, owners


def runs(owners: list[int]) -> list[list[int]]:
    """Word indices grouped into runs of one speaker."""
    groups: list[list[int]] = []
    for i, owner in enumerate(owners):
        if groups and owners[groups[-1][-1]] == owner:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


# ---------------------------------------------------------------- splitting after ctc


def test_a_change_of_speaker_splits_exactly_at_the_pause_between_words() -> None:
    transcript, words, owners = worded([(1, 5), (0, 4), (1, 3)], gap_s=0.15, pause_s=0.45)
    out = DiarizeStage(backend="tones", num_speakers=2)(transcript)
    assert [s.words for s in out.segments] == [tuple(words[i] for i in r) for r in runs(owners)]
    # Named in order of first appearance, whatever the clusters' numbering.
    assert [s.speaker for s in out.segments] == ["Спикер 1", "Спикер 2", "Спикер 1"]
    first, second, third = out.segments
    assert (first.start, first.end) == (0.0, words[4].end)
    assert (second.start, second.end) == (words[5].start, words[8].end)
    assert (third.start, third.end) == (words[9].start, transcript.duration)
    assert [w.text for w in out.words] == [w.text for w in words]  # no word cut or lost


def test_found_speaker_count_and_input_speakers_name_them_in_order_of_appearance() -> None:
    transcript, words, owners = worded([(2, 4), (0, 5), (1, 4), (0, 3), (2, 4)])
    pipeline = Pipeline.from_config(
        {
            "pipeline": ["diarize"],
            "stages": {"diarize": {"backend": "tones"}},
            "input": {"speakers": ["Интервьюер", "Гость"]},
        }
    )
    out = pipeline(transcript)
    assert [s.speaker for s in out.segments] == [
        "Интервьюер",
        "Гость",
        "Спикер 3",
        "Гость",
        "Интервьюер",
    ]
    assert [len(s.words) for s in out.segments] == [len(r) for r in runs(owners)]


def test_one_speaker_stays_one_segment_and_bad_counts_are_config_errors() -> None:
    transcript, words, _ = worded([(0, 6)])
    out = DiarizeStage(backend="tones")(transcript)
    assert [(s.speaker, s.words) for s in out.segments] == [("Спикер 1", tuple(words))]
    with pytest.raises(ConfigError, match="min_speakers <= max_speakers"):
        DiarizeStage(backend="tones", min_speakers=3, max_speakers=2)
    with pytest.raises(ConfigError, match="hop_s"):
        DiarizeStage(backend="tones", window_s=1.0, hop_s=2.0)
    with pytest.raises(UnknownNameError, match="resemblyzer"):
        DiarizeStage(backend="nonesuch")


def test_before_ctc_segments_split_at_change_points_at_hop_resolution() -> None:
    transcript, words, owners = worded([(0, 8), (1, 8)], gap_s=0.05, pause_s=0.3)
    empty = transcript.map_segments(lambda s: Segment(s.start, s.end))
    out = DiarizeStage(backend="tones", num_speakers=2, hop_s=0.5, window_s=1.0)(empty)
    assert [s.speaker for s in out.segments] == ["Спикер 1", "Спикер 2"]
    change = (words[7].end + words[8].start) / 2
    assert abs(out.segments[0].end - change) <= 0.5
    assert out.segments[0].end == out.segments[1].start
    assert (out.segments[0].start, out.segments[1].end) == (0.0, transcript.duration)


def test_a_plugin_model_loads_through_the_entry_point_group(monkeypatch) -> None:
    import asr_pipeline.registry as registry

    point = EntryPoint(
        "tones-plugin", "tests.diarize_fakes:ToneEmbedder", "asr_pipeline.speaker_embeddings"
    )
    monkeypatch.setattr(
        registry,
        "entry_points",
        lambda group: [point] if group == "asr_pipeline.speaker_embeddings" else [],
    )
    assert "tones-plugin" in speaker_embeddings.names()
    transcript, _, owners = worded([(0, 4), (1, 4)])
    stage = DiarizeStage(backend="tones-plugin", num_speakers=2, device="cpu")
    assert stage._embedder.device == "cpu"
    out = stage(transcript)
    assert [len(s.words) for s in out.segments] == [len(r) for r in runs(owners)]


def test_channel_split_transcripts_are_left_alone_unless_per_channel() -> None:
    samples, words, _ = tone_speech([(0, 4), (1, 4)])
    stereo = np.stack([samples, np.zeros_like(samples)])
    audio = Audio.from_array(stereo, source="call.wav")
    segments = (
        Segment(0.0, audio.duration, tuple(words), "Клиент", 0),
        Segment(0.0, audio.duration, (), "Оператор", 1),
    )
    transcript = Transcript(segments, "call.wav", audio.duration, audio=audio)
    assert DiarizeStage(backend="tones")(transcript) == transcript
    out = DiarizeStage(backend="tones", per_channel=True)(transcript)
    speakers = {(s.channel, s.speaker) for s in out.segments}
    assert speakers == {(0, "Клиент 1"), (0, "Клиент 2"), (1, "Оператор")}


# ---------------------------------------------------------------- rttm writer


def test_rttm_has_one_speaker_line_per_turn_with_spaces_as_underscores() -> None:
    def seg(start, end, speaker):
        return Segment(start, end, (Word("а", start + 0.1, end - 0.1),), speaker)

    transcript = Transcript(
        (
            seg(0.0, 2.0, "Спикер 1"),
            seg(2.3, 4.0, "Спикер 1"),  # a short pause: the same turn
            seg(4.2, 5.0, "Гость Студии"),
            seg(8.0, 9.0, "Гость Студии"),  # a long pause: a new turn
            Segment(9.5, 10.0, (), "Спикер 1"),  # no words: no speech
        ),
        source="/data/my interview.wav",
    )
    fp = io.StringIO()
    RttmWriter().write(transcript, fp)
    assert fp.getvalue().splitlines() == [
        "SPEAKER my_interview 1 0.100 3.800 <NA> <NA> Спикер_1 <NA> <NA>",
        "SPEAKER my_interview 1 4.300 0.600 <NA> <NA> Гость_Студии <NA> <NA>",
        "SPEAKER my_interview 1 8.100 0.800 <NA> <NA> Гость_Студии <NA> <NA>",
    ]


# ---------------------------------------------------------------- DER in eval


def test_der_counts_confusion_and_forgives_the_collar(tmp_path: Path) -> None:
    reference = [("a", 0.0, 10.0), ("b", 10.0, 20.0)]
    exact = speaker_counts(reference, [("x", 0.0, 10.0), ("y", 10.0, 20.0)])
    assert exact.der == 0.0 and exact.jer == 0.0
    late = [("x", 0.0, 12.0), ("y", 12.0, 20.0)]  # 2 s of b given to a
    counts = speaker_counts(reference, late, collar=0.25)
    assert counts.confusion_s == pytest.approx(1.75)  # 2 s less the collar's 0.25 s
    assert counts.reference_s == pytest.approx(19.0)  # 20 s less 0.5 s around the boundary
    assert speaker_counts(reference, late, collar=0.0).confusion_s == pytest.approx(2.0)
    assert speaker_counts(reference, []).missed_s == pytest.approx(19.0)


def test_eval_reports_der_overall_and_per_tag_from_an_rttm_column(tmp_path: Path) -> None:
    (tmp_path / "a.rttm").write_text(
        "SPEAKER a 1 0.0 10.0 <NA> <NA> A <NA> <NA>\nSPEAKER a 1 10.0 10.0 <NA> <NA> B <NA> <NA>\n"
    )
    (tmp_path / "b.rttm").write_text("SPEAKER b 1 0.0 5.0 <NA> <NA> A <NA> <NA>\n")
    manifest = tmp_path / "m.tsv"
    manifest.write_text(
        "audio\ttext\trttm\troom\n"
        "a.wav\tраз два\ta.rttm\tstudio\n"
        "b.wav\tтри\tb.rttm\tphone\n"
        "c.wav\tчетыре\t\tphone\n",
        encoding="utf-8",
    )
    hyp = tmp_path / "hyp"
    hyp.mkdir()

    def saved(name, *segments):
        transcript = Transcript(tuple(segments), f"{name}.wav")
        (hyp / f"{name}.json").write_text(transcript.to_json(), "utf-8")

    saved(
        "a",
        Segment(0.0, 12.0, (Word("раз", 0.0, 12.0),), "Спикер 1"),
        Segment(12.0, 20.0, (Word("два", 12.0, 20.0),), "Спикер 2"),
    )
    saved("b", Segment(0.0, 5.0, (Word("три", 0.0, 5.0),), "Спикер 1"))
    saved("c", Segment(0.0, 1.0, (Word("четыре", 0.0, 1.0),), "Спикер 1"))
    report = tmp_path / "r.json"
    result = runner.invoke(app, ["eval", str(manifest), "--hyp", str(hyp), "-o", str(report)])
    assert result.exit_code == 0, result.output
    # 1.75 s confused over 19 + 4.5 s of speech (collars cut 0.25 s around every boundary)
    assert "DER 7.4 %" in result.output
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["der"] == pytest.approx(1.75 / 23.5)
    assert data["tags"]["room"]["phone"]["der"] == 0.0
    assert data["tags"]["room"]["studio"]["der"] == pytest.approx(1.75 / 19.0)
    files = {f["id"]: f for f in data["per_file"]}
    assert "der" not in files["c.wav"] and files["b.wav"]["jer"] == 0.0
    wide = runner.invoke(
        app, ["eval", str(manifest), "--hyp", str(hyp), "--collar", "1", "-o", str(report)]
    )
    assert wide.exit_code == 0
    assert json.loads(report.read_text(encoding="utf-8"))["der"] == pytest.approx(1.0 / 19.0)


def test_a_missing_or_malformed_rttm_is_named_before_anything_runs(tmp_path: Path) -> None:
    manifest = tmp_path / "m.tsv"
    manifest.write_text("audio\ttext\trttm\na.wav\tраз\tref/a.rttm\n", encoding="utf-8")
    result = runner.invoke(app, ["eval", str(manifest), "--hyp", str(tmp_path)])
    assert result.exit_code == 2
    assert "reference RTTM not found" in result.output and "a.rttm" in result.output
    (tmp_path / "ref").mkdir()
    (tmp_path / "ref" / "a.rttm").write_text("SPEAKER a 1 zero 1.0 <NA> <NA> A <NA> <NA>\n")
    result = runner.invoke(app, ["eval", str(manifest), "--hyp", str(tmp_path)])
    assert result.exit_code == 2
    assert "a.rttm: line 1: not an RTTM SPEAKER line" in result.output


# ---------------------------------------------------------------- pyannote backend


class FakeAnnotation:
    def __init__(self, turns):
        self.turns = turns

    def itertracks(self, yield_label=False):
        for start, end, label in self.turns:
            yield types.SimpleNamespace(start=start, end=end), "_", label


class FakePyannotePipeline:
    loaded: list = []
    turns: list = []
    fail: Exception | None = None

    @classmethod
    def from_pretrained(cls, checkpoint, token=None):
        if cls.fail is not None:
            raise cls.fail
        cls.loaded.append((checkpoint, token))
        return cls()

    def __call__(self, data, **counts):
        self.counts = counts
        assert data["sample_rate"] == 16_000 and data["waveform"].ndim == 2
        return types.SimpleNamespace(speaker_diarization=FakeAnnotation(self.turns))


@pytest.fixture
def fake_pyannote(monkeypatch):
    package = types.ModuleType("pyannote")
    package.__path__ = []
    audio = types.ModuleType("pyannote.audio")
    audio.Pipeline = FakePyannotePipeline
    package.audio = audio
    monkeypatch.setitem(sys.modules, "pyannote", package)
    monkeypatch.setitem(sys.modules, "pyannote.audio", audio)
    monkeypatch.delenv("HF_TOKEN", raising=False)
    FakePyannotePipeline.loaded, FakePyannotePipeline.fail = [], None
    return FakePyannotePipeline


def test_pyannote_missing_or_offline_says_what_to_do(monkeypatch, fake_pyannote) -> None:
    with pytest.raises(ModelError, match="needs a token.*HF_TOKEN.*local folder"):
        DiarizeStage(backend="pyannote")
    monkeypatch.setenv("HF_TOKEN", "hf_x")
    fake_pyannote.fail = ConnectionError("cannot reach huggingface.co")
    with pytest.raises(
        ModelError, match="cannot reach huggingface.co. Offline, set .*local folder"
    ):
        DiarizeStage(backend="pyannote")
    fake_pyannote.fail = None
    DiarizeStage(backend="pyannote")
    assert fake_pyannote.loaded == [("pyannote/speaker-diarization-3.1", "hf_x")]
    monkeypatch.setitem(sys.modules, "pyannote.audio", None)  # not installed
    with pytest.raises(ModelError, match="pip install pyannote.audio"):
        DiarizeStage(backend="pyannote")


def test_pyannote_loads_a_local_folder_and_its_turns_split_words(
    tmp_path: Path, fake_pyannote
) -> None:
    with pytest.raises(ModelError, match="no config.yaml"):
        DiarizeStage(backend="pyannote", pyannote_model=str(tmp_path))
    (tmp_path / "config.yaml").write_text("pipeline: {}\n")
    stage = DiarizeStage(backend="pyannote", pyannote_model=str(tmp_path), num_speakers=2)
    assert fake_pyannote.loaded == [(str(tmp_path / "config.yaml"), None)]
    transcript, words, owners = worded([(0, 3), (1, 3)])
    change = (words[2].end + words[3].start) / 2
    fake_pyannote.turns = [(0.2, change + 0.1, "SPEAKER_07"), (change + 0.1, 4.0, "SPEAKER_02")]
    out = stage(transcript)
    assert [s.words for s in out.segments] == [tuple(words[:3]), tuple(words[3:])]
    assert [s.speaker for s in out.segments] == ["Спикер 1", "Спикер 2"]


# ---------------------------------------------------------------- real speech


def test_windows_cover_a_segment_with_the_last_one_at_its_end() -> None:
    spans = windows(2.0, 6.1, 1.5, 0.75)
    assert spans[0] == (2.0, 3.5) and spans[-1] == (4.6, 6.1)
    assert all(b - a == pytest.approx(1.5) for a, b in spans)
    assert all(0 < y[0] - x[0] <= 0.75 + 1e-9 for x, y in zip(spans, spans[1:], strict=False))


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng is not installed")
def test_resemblyzer_finds_who_spoke_when_in_an_espeak_dialogue(tmp_path: Path) -> None:
    """vad, ctc (the demonstration model) and diarize from the command line, count found."""
    pytest.importorskip("resemblyzer")
    from benchmarks.dialogues import dialogue, write

    talk = dialogue(speakers=2, seconds=25.0, seed=3)
    wav, reference = write(talk, tmp_path / "ref", "my talk")
    model = Path(__file__).parent / "fixtures" / "espeak-ru-tiny"
    arguments = ["transcribe", str(wav), "-o", str(tmp_path), "-f", "rttm,txt", "--model"]
    arguments += [str(model), "--device", "cpu", "--stages", "vad,ctc,diarize"]
    arguments += ["--set", "input.speakers=[Ведущий]"]
    result = runner.invoke(app, arguments)
    assert result.exit_code == 0, result.output
    found = read_rttm(tmp_path / "my talk.rttm")
    assert {s for s, _, _ in found} == {"Ведущий", "Спикер_2"}  # the count, found
    assert (tmp_path / "my talk.rttm").read_text().startswith("SPEAKER my_talk 1 ")
    assert speaker_counts(read_rttm(reference), found).der < 0.10
    text = (tmp_path / "my talk.txt").read_text(encoding="utf-8")
    assert "Ведущий:" in text and "Спикер 2:" in text


def test_jsonl_hypotheses_have_no_times_so_no_der(tmp_path: Path) -> None:
    (tmp_path / "a.rttm").write_text("SPEAKER a 1 0.0 5.0 <NA> <NA> A <NA> <NA>\n")
    manifest = tmp_path / "m.tsv"
    manifest.write_text("audio\ttext\trttm\na.wav\tраз\ta.rttm\n", encoding="utf-8")
    hyp = tmp_path / "hyp.jsonl"
    hyp.write_text('{"audio": "a.wav", "text": "раз"}\n', encoding="utf-8")
    report = tmp_path / "r.json"
    result = runner.invoke(app, ["eval", str(manifest), "--hyp", str(hyp), "-o", str(report)])
    assert result.exit_code == 0, result.output
    assert "DER needs a folder of JSON transcripts" in result.output
    assert "der" not in json.loads(report.read_text(encoding="utf-8"))
