"""Clip cutting, the dataset folder and its exports, the annotation writers read back with
praatio and pympi, Hugging Face's audiofolder loader, and the Label Studio round trip."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from asr_pipeline import Audio, Segment, Transcript, Word
from asr_pipeline.annotate import Dataset, cut_clips, import_annotations, read_export
from asr_pipeline.annotate.labelstudio import AnnotationError
from asr_pipeline.cli import app
from asr_pipeline.evaluate import read_manifest
from asr_pipeline.types import confidence
from asr_pipeline.writers import get_writer, write_transcript

SR = 16_000


def words(*items: tuple[str, float, float] | tuple[str, float, float, float]) -> tuple[Word, ...]:
    return tuple(Word(*item) for item in items)


def transcript(*segments: Segment, duration: float = 30.0, source: str = "talk.wav") -> Transcript:
    rng = np.random.default_rng(1)
    samples = (0.1 * rng.standard_normal(round(duration * SR))).astype("float32")
    audio = Audio.from_array(samples, source=source)
    return Transcript(segments, source, duration, audio=audio)


def assert_between_words(clips, all_words) -> None:
    """No clip starts or ends inside a word, and every word it holds lies inside it."""
    for clip in clips:
        for word in all_words:
            assert not word.start < clip.start < word.end, (clip.name, word)
            assert not word.start < clip.end < word.end, (clip.name, word)
        for word in clip.words:
            assert clip.start <= word.start and word.end <= clip.end


def test_confidence_is_the_least_sure_words_score() -> None:
    assert confidence(words(("а", 0, 1, 0.9), ("б", 1, 2, 0.4), ("в", 2, 3))) == 0.4
    assert confidence(words(("а", 0, 1))) is None
    assert Segment(0, 3, words(("а", 0, 1, 0.7))).confidence == 0.7


def test_long_speech_is_split_at_its_longest_pauses_within_the_bounds() -> None:
    # 24 words of 0.5 s with 0.1 s gaps, a 0.3 s pause after every sixth: one utterance of 14.3 s
    items, t = [], 1.0
    for i in range(24):
        items.append((f"w{i}", round(t, 2), round(t + 0.5, 2), 0.9 - i / 100))
        t += 0.5 + (0.3 if i % 6 == 5 else 0.1)
    spoken = words(*items)
    cutting = cut_clips(transcript(Segment(1.0, t, spoken)), "talk", max_duration=8.0)
    clips = cutting.clips
    assert [c.name for c in clips] == ["talk_00001", "talk_00002"]
    assert [len(c.words) for c in clips] == [12, 12]  # the 0.3 s pause nearest the middle
    assert all(1.0 <= c.duration <= 8.0 for c in clips)
    assert_between_words(clips, spoken)
    assert [w for c in clips for w in c.words] == list(spoken)
    assert clips[1].confidence == pytest.approx(0.9 - 23 / 100)


def test_short_utterances_join_a_near_neighbour_or_are_left_out() -> None:
    near = words(("да", 2.0, 2.3), ("конечно", 2.5, 3.2))  # 0.6 s after "да"
    alone = words(("ну", 10.0, 10.3))
    long_word = words(("а" * 40, 14.0, 21.0))
    segments = (Segment(2.0, 2.3, near[:1]), Segment(2.5, 3.2, near[1:]))
    segments += (Segment(10.0, 10.3, alone), Segment(14.0, 21.0, long_word))
    cutting = cut_clips(transcript(*segments), "t", min_duration=0.8, max_duration=6.0)
    assert [c.text for c in cutting.clips] == ["да конечно"]
    assert (cutting.too_short, cutting.too_long) == (1, 1)
    clip = cutting.clips[0]
    assert (clip.start, clip.end) == (1.8, 3.4)  # padded by 0.2 s on both sides


def test_speakers_are_cut_apart_and_numbered_in_time_order() -> None:
    a = Segment(0.0, 3.0, words(("раз", 0.5, 1.0), ("два", 1.1, 2.0)), speaker="A", channel=0)
    b = Segment(0.0, 3.0, words(("три", 0.8, 1.4), ("четыре", 1.5, 2.5)), speaker="B", channel=1)
    clips = cut_clips(transcript(a, b), "call").clips
    assert [(c.name, c.speaker, c.channel, c.text) for c in clips] == [
        ("call_00001", "A", 0, "раз два"),
        ("call_00002", "B", 1, "три четыре"),
    ]


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="min_duration < max_duration"):
        cut_clips(transcript(), "t", min_duration=5, max_duration=2)


# ---------------------------------------------------------------- writers


def sample() -> Transcript:
    first = words(("мама", 0.5, 0.9, 0.95), ("мыла", 1.0, 1.4, 0.4), ("раму", 1.5, 2.0, 0.8))
    second = words(("хорошо", 4.0, 4.6, 0.9))
    return transcript(Segment(0.5, 2.0, first), Segment(4.0, 4.6, second), duration=6.0)


def test_textgrid_reads_back_with_praatio(tmp_path: Path) -> None:
    from praatio import textgrid

    write_transcript(sample(), tmp_path / "talk.TextGrid", get_writer("textgrid"))
    grid = textgrid.openTextgrid(str(tmp_path / "talk.TextGrid"), includeEmptyIntervals=False)
    assert grid.tierNames == ("utterances", "words")
    assert (grid.minTimestamp, grid.maxTimestamp) == (0, 6.0)
    utterances = [(e.start, e.end, e.label) for e in grid.getTier("utterances").entries]
    assert utterances == [(0.3, 2.2, "мама мыла раму"), (3.8, 4.8, "хорошо")]
    labels = [e.label for e in grid.getTier("words").entries]
    assert labels == ["мама", "мыла", "раму", "хорошо"]
    assert grid.getTier("words").entries[1][:2] == (1.0, 1.4)


def test_textgrid_min_duration_option_drops_short_utterances_only(tmp_path: Path) -> None:
    from praatio import textgrid

    writer = get_writer("textgrid", {"min_duration": 1.5})
    write_transcript(sample(), tmp_path / "talk.TextGrid", writer)
    grid = textgrid.openTextgrid(str(tmp_path / "talk.TextGrid"), includeEmptyIntervals=False)
    assert [e.label for e in grid.getTier("utterances").entries] == ["мама мыла раму"]
    assert len(grid.getTier("words").entries) == 4


def test_eaf_reads_back_with_pympi(tmp_path: Path) -> None:
    from pympi import Elan

    write_transcript(sample(), tmp_path / "talk.eaf", get_writer("eaf"))
    eaf = Elan.Eaf(str(tmp_path / "talk.eaf"))
    assert sorted(eaf.get_tier_names()) == ["utterances", "words"]
    assert sorted(eaf.get_annotation_data_for_tier("utterances")) == [
        (300, 2200, "мама мыла раму"),
        (3800, 4800, "хорошо"),
    ]
    assert sorted(eaf.get_annotation_data_for_tier("words"))[1] == (1000, 1400, "мыла")
    assert eaf.media_descriptors[0]["MEDIA_URL"].endswith("/talk.wav")


def test_two_speakers_get_a_pair_of_tiers_each(tmp_path: Path) -> None:
    from pympi import Elan

    a = Segment(0.0, 3.0, words(("раз", 0.5, 1.0), ("два", 1.1, 2.0)), speaker="Анна", channel=0)
    b = Segment(0.0, 3.0, words(("три", 0.8, 1.4), ("ещё", 1.5, 2.5)), speaker="Борис", channel=1)
    write_transcript(transcript(a, b), tmp_path / "call.eaf", get_writer("eaf"))
    eaf = Elan.Eaf(str(tmp_path / "call.eaf"))
    assert sorted(eaf.get_tier_names()) == [
        "utterances: Анна",
        "utterances: Борис",
        "words: Анна",
        "words: Борис",
    ]
    assert sorted(eaf.get_annotation_data_for_tier("words: Борис")) == [
        (800, 1400, "три"),
        (1500, 2500, "ещё"),
    ]


def test_ctm_lines_are_source_channel_start_duration_word_confidence(tmp_path: Path) -> None:
    write_transcript(sample(), tmp_path / "talk.ctm", get_writer("ctm"))
    lines = [line.split() for line in (tmp_path / "talk.ctm").read_text("utf-8").splitlines()]
    assert lines[0] == ["talk", "1", "0.500", "0.400", "мама", "0.950"]
    assert [line[4] for line in lines] == ["мама", "мыла", "раму", "хорошо"]
    write_transcript(sample(), tmp_path / "plain.ctm", get_writer("ctm", {"confidence": False}))
    plain = (tmp_path / "plain.ctm").read_text("utf-8").splitlines()
    assert {len(line.split()) for line in plain} == {5}


def test_transcribe_writes_the_annotation_formats(tmp_path: Path) -> None:
    from asr_pipeline import register_stage
    from asr_pipeline.registry import stages

    @register_stage("t_sample")
    def fill() -> object:
        return lambda t: Transcript(sample().segments, t.source, t.duration, t.metadata, t.audio)

    sf.write(tmp_path / "talk.wav", np.zeros(6 * SR, dtype="float32"), SR)
    try:
        args = ["transcribe", str(tmp_path / "talk.wav"), "-o", str(tmp_path / "out")]
        result = CliRunner().invoke(app, [*args, "-f", "textgrid,eaf,ctm", "--stages", "t_sample"])
    finally:
        stages.unregister("t_sample")
    assert result.exit_code == 0, result.output
    assert {p.name for p in (tmp_path / "out").iterdir() if not p.name.startswith("_")} == {
        "talk.TextGrid",
        "talk.eaf",
        "talk.ctm",
    }


# ---------------------------------------------------------------- dataset


def test_dataset_writes_clips_and_manifests_that_hf_and_eval_read(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    t = sample()
    dataset = Dataset(tmp_path / "ds", min_duration=0.5, max_duration=10.0, min_confidence=0.3)
    record = dataset.add(t)
    assert [c.name for c in record.clips] == ["talk_00001", "talk_00002"]
    dataset.export(["nemo", "hf"])
    clip_file = tmp_path / "ds" / "audio" / "talk_00001.wav"
    info = sf.info(clip_file)
    assert (info.samplerate, info.channels, info.subtype) == (SR, 1, "PCM_16")
    assert info.frames == round((2.2 - 0.3) * SR)
    rows = [
        json.loads(line) for line in (tmp_path / "ds" / "manifest.jsonl").open(encoding="utf-8")
    ]
    assert rows[0] == {
        "audio_filepath": "audio/talk_00001.wav",
        "duration": 1.9,
        "text": "мама мыла раму",
        "source": "talk.wav",
        "offset": 0.3,
        "confidence": 0.4,
        "speaker": None,
    }
    entries = read_manifest(tmp_path / "ds" / "manifest.jsonl")
    assert [e.path for e in entries] == [clip_file, tmp_path / "ds" / "audio" / "talk_00002.wav"]
    assert not any(e.is_span for e in entries)  # whole clips: offset is where in talk.wav
    loaded = datasets.load_dataset(
        "audiofolder",
        data_dir=str(tmp_path / "ds"),
        split="train",
        cache_dir=str(tmp_path / "cache"),
    )
    by_text = {row["text"]: row for row in loaded}
    assert set(by_text) == {"мама мыла раму", "хорошо"}
    audio = by_text["мама мыла раму"]["audio"]
    assert audio["sampling_rate"] == SR
    expected = t.audio.read(0.3, 2.2)
    np.testing.assert_allclose(audio["array"], expected, atol=1 / 32768 + 1e-6)


def test_min_confidence_leaves_clips_out_and_counts_them(tmp_path: Path) -> None:
    dataset = Dataset(tmp_path / "ds", min_duration=0.5, min_confidence=0.5)
    record = dataset.add(sample())
    assert [c.text for c in record.clips] == ["хорошо"] and record.low_confidence == 1
    assert [p.name for p in (tmp_path / "ds" / "audio").iterdir()] == ["talk_00002.wav"]
    # read back from the folder, the record is the same
    assert Dataset(tmp_path / "ds").records["talk"] == record


def test_rerunning_a_source_replaces_its_clips(tmp_path: Path) -> None:
    dataset = Dataset(tmp_path / "ds", min_duration=0.5)
    dataset.add(sample())
    assert len(list((tmp_path / "ds" / "audio").iterdir())) == 2
    stricter = Dataset(tmp_path / "ds", min_duration=0.5, min_confidence=0.5)
    stricter.add(sample())
    assert [p.name for p in (tmp_path / "ds" / "audio").iterdir()] == ["talk_00002.wav"]


def test_another_source_with_the_same_stem_is_refused(tmp_path: Path) -> None:
    dataset = Dataset(tmp_path / "ds", min_duration=0.5)
    dataset.add(sample())
    with pytest.raises(Exception, match="already has clips named talk_"):
        dataset.check_source(tmp_path / "talk.mp3")


# ---------------------------------------------------------------- Label Studio


def labelstudio_export(tasks: list[dict]) -> list[dict]:
    """The tasks as Label Studio exports them once annotated: ids, and an annotation per task
    that starts as a copy of the prediction (what the annotator then edits)."""
    exported = []
    for number, task in enumerate(tasks, 1):
        result = copy.deepcopy(task["predictions"][0]["result"])
        for item in result:
            item.pop("score", None)
            item["origin"] = "prediction-changed"
        exported.append(
            {
                "id": 100 + number,
                "data": task["data"],
                "annotations": [
                    {
                        "id": number,
                        "completed_by": 1,
                        "result": result,
                        "was_cancelled": False,
                        "created_at": "2026-12-01T10:00:00.000000Z",
                        "updated_at": "2026-12-01T10:05:00.000000Z",
                    }
                ],
                "predictions": task["predictions"],
            }
        )
    return exported


def test_labelstudio_tasks_pair_a_labels_and_a_textarea_result_per_region(tmp_path: Path) -> None:
    dataset = Dataset(tmp_path / "ds", min_duration=0.5)
    dataset.add(sample())
    dataset.export(["labelstudio"], audio_url_prefix="/data/local-files/?d=rec/")
    (task,) = json.loads((tmp_path / "ds" / "tasks.json").read_text("utf-8"))
    assert task["data"]["audio"] == "/data/local-files/?d=rec/talk.wav"
    prediction = task["predictions"][0]
    assert prediction["score"] == 0.4
    result = prediction["result"]
    assert [(r["id"], r["type"]) for r in result] == [
        ("talk_00001", "labels"),
        ("talk_00001", "textarea"),
        ("talk_00002", "labels"),
        ("talk_00002", "textarea"),
    ]
    assert result[1]["value"] == {
        "start": 0.3,
        "end": 2.2,
        "channel": 0,
        "text": ["мама мыла раму"],
    }
    assert result[0]["from_name"] == "labels" and result[1]["from_name"] == "transcription"
    assert all(r["to_name"] == "audio" for r in result)
    config = (tmp_path / "ds" / "labeling_config.xml").read_text("utf-8")
    for name in ('name="labels"', 'name="transcription"', 'perRegion="true"', 'value="$audio"'):
        assert name in config


def test_labelstudio_round_trip_keeps_corrections_and_drops_deleted_regions(
    tmp_path: Path,
) -> None:
    three = transcript(
        Segment(0.5, 2.0, words(("мама", 0.5, 0.9, 0.9), ("мыла", 1.0, 2.0, 0.9))),
        Segment(4.0, 5.6, words(("раму", 4.0, 5.6, 0.3))),
        Segment(8.0, 9.5, words(("хорошо", 8.0, 9.5, 0.9))),
        duration=12.0,
    )
    other = transcript(duration=3.0, source="other.wav")
    dataset = Dataset(tmp_path / "ds", min_duration=0.5)
    dataset.add(three)
    dataset.add(
        Transcript(
            (Segment(0.5, 2.5, words(("да", 0.5, 2.5, 0.9))),), "other.wav", 3.0, audio=other.audio
        )
    )
    dataset.export(["labelstudio"], audio_url_prefix="http://127.0.0.1:8081/")
    tasks = json.loads((tmp_path / "ds" / "tasks.json").read_text("utf-8"))
    exported = labelstudio_export(tasks)
    talk = exported[1]
    assert talk["data"]["source"] == "talk.wav"
    result = talk["annotations"][0]["result"]
    result[1]["value"]["text"] = ["Мама мыла раму."]  # corrected (and the region joined)
    for item in result[:2]:
        item["value"]["end"] = 5.8
    result[:] = [r for r in result if r["id"] != "talk_00002"]  # deleted region
    exported[0]["annotations"][0]["was_cancelled"] = True  # other.wav: skipped by the annotator
    export = tmp_path / "export.json"
    export.write_text(json.dumps(exported, ensure_ascii=False), "utf-8")
    manifest = tmp_path / "corrected.jsonl"
    result = CliRunner().invoke(
        app,
        ["import-annotations", str(export), "-o", str(manifest)]
        + ["--audio-url-prefix", "http://127.0.0.1:8081/"],
    )
    assert result.exit_code == 0, result.output
    assert (
        "wrote 2 lines" in result.output
        and "1 task(s) not annotated yet, left out: 101" in result.output
    )
    rows = [json.loads(line) for line in manifest.read_text("utf-8").splitlines()]
    assert rows == [
        {"audio": "talk.wav", "text": "Мама мыла раму.", "offset": 0.3, "duration": 5.5},
        {"audio": "talk.wav", "text": "хорошо", "offset": 7.8, "duration": 1.9},
    ]
    entries = read_manifest(manifest)  # what eval reads
    assert [e.span for e in entries] == [(0.3, 5.8), (7.8, 9.7)]


MALFORMED_EXPORTS = [
    ({"id": 7, "annotations": [{"result": []}]}, "task 7: no 'data.audio'"),
    ({"id": 8, "data": {"audio": "a.wav"}, "annotations": {"result": []}}, "task 8: 'annotations'"),
    (
        {
            "id": 9,
            "data": {"audio": "a.wav"},
            "annotations": [
                {"result": [{"id": "r1", "type": "textarea", "value": {"start": 1, "text": ["x"]}}]}
            ],
        },
        "task 9: region r1: 'value.start' and 'value.end' must be seconds",
    ),
    (
        {
            "id": 10,
            "data": {"audio": "a.wav"},
            "annotations": [
                {
                    "result": [
                        {"id": "r2", "type": "textarea", "value": {"start": 1, "end": 2, "text": 5}}
                    ]
                }
            ],
        },
        "task 10: region r2: 'value.text' must be a list",
    ),
]


@pytest.mark.parametrize(("bad", "message"), MALFORMED_EXPORTS)
def test_a_malformed_export_is_an_error_naming_the_task(
    tmp_path: Path, bad: dict, message: str
) -> None:
    good = {"id": 1, "data": {"audio": "a.wav"}, "annotations": []}
    export = tmp_path / "export.json"
    export.write_text(json.dumps([good, bad]), "utf-8")
    with pytest.raises(AnnotationError, match=message):
        read_export(export)
    result = CliRunner().invoke(
        app, ["import-annotations", str(export), "-o", str(tmp_path / "m.jsonl")]
    )
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "m.jsonl").exists()


def test_an_export_that_is_not_json_names_the_format_to_choose(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text("id,audio\n1,a.wav\n", "utf-8")
    with pytest.raises(AnnotationError, match="export the project as JSON"):
        import_annotations(export, tmp_path / "m.jsonl")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-f", "nemo,praat"], "unknown format 'praat'"),
        (["--min-duration", "5", "--max-duration", "2"], "--min-duration (5) must be under"),
        (["-f", ""], "give at least one format"),
    ],
)
def test_bad_annotate_options_exit_2_before_anything_runs(
    tmp_path: Path, args: list[str], message: str
) -> None:
    sf.write(tmp_path / "talk.wav", np.zeros(SR, dtype="float32"), SR)
    command = ["annotate", str(tmp_path / "talk.wav"), "-o", str(tmp_path / "ds"), *args]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 2 and message in result.output
    assert not (tmp_path / "ds").exists()


def test_a_corrupt_clip_record_is_named_with_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "ds" / "annotations").mkdir(parents=True)
    (tmp_path / "ds" / "annotations" / "talk.clips.json").write_text("{", "utf-8")
    with pytest.raises(Exception, match="talk.clips.json: not a clip record.*delete it"):
        Dataset(tmp_path / "ds")
