"""Readable outputs: txt/md/docx paragraphs with timestamps and speakers, subtitle cues and
their limits, speakers by channel, and ``render`` giving the same bytes as ``transcribe``."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
import shlex
import shutil
from dataclasses import replace
from pathlib import Path

import docx
import numpy as np
import pytest
import soundfile as sf
from test_reading import call
from test_writers import parse_srt, parse_vtt
from typer.testing import CliRunner

from asr_pipeline import Metadata, Pipeline, Segment, Transcript, Word, register_stage
from asr_pipeline.cli import app
from asr_pipeline.registry import stages as stage_registry
from asr_pipeline.writers import (
    DocxWriter,
    MarkdownWriter,
    SrtWriter,
    TextWriter,
    VttWriter,
    get_writer,
)
from asr_pipeline.writers.markdown import escape_markdown
from asr_pipeline.writers.subtitles import build_cues

SAMPLE_RATE = 16_000
MODEL = "jonatasgrosman/wav2vec2-large-xlsr-53-russian"
STAGES = ("vad", "ctc", "numbers", "punctuation", "casing")


def scored(transcript: Transcript, scores: dict[str, float]) -> Transcript:
    """A copy where the words named in ``scores`` get those confidences."""
    return transcript.map_segments(
        lambda s: replace(
            s, words=tuple(replace(w, score=scores.get(w.text, w.score)) for w in s.words)
        )
    )


@pytest.fixture
def interview() -> Transcript:
    meta = Metadata(
        version="0.1.0",
        model=MODEL,
        revision="a1b2c3d",
        stages=STAGES,
        created="2026-03-01T10:20:30+00:00",
    )
    transcript = replace(call(), metadata=meta, source="/records/call.wav")
    return scored(transcript, {"номер.": 0.3, "Да,": 0.45, "спасибо.": 0.5})


def text_of(writer, transcript: Transcript) -> str:
    fp = io.StringIO()
    writer.write(transcript, fp)
    return fp.getvalue()


def bytes_of(writer, transcript: Transcript) -> bytes:
    fp = io.BytesIO()
    writer.write(transcript, fp)
    return fp.getvalue()


# ---------------------------------------------------------------- txt and md


def test_txt_has_timestamps_speaker_turns_and_paragraphs(interview: Transcript) -> None:
    assert text_of(TextWriter(), interview) == (
        "[00:00:00] Оператор: Здравствуйте. Приходите 25-го. Вам удобно?\n\n"
        "[00:00:07] Записываю, ваш номер.\n\n"
        "[00:00:11] Клиент: Да, спасибо.\n\n"
        "[00:00:12] Оператор: До свидания.\n"
    )
    plain = text_of(TextWriter(timestamps=False, pause_s=3.0), interview)
    assert plain.split("\n\n")[0] == (
        "Оператор: Здравствуйте. Приходите 25-го. Вам удобно? Записываю, ваш номер."
    )


def test_untimed_text_gets_no_timestamps() -> None:
    assert text_of(TextWriter(), Transcript.from_text("да нет")) == "да нет\n"


def test_markdown_document(interview: Transcript) -> None:
    assert text_of(MarkdownWriter(review_below=0.5), interview) == (
        "# call\n\n"
        "| | |\n"
        "|---|---|\n"
        "| Файл | call.wav |\n"
        "| Длительность | 00:00:14 |\n"
        "| Дата | 2026-03-01 10:20 UTC |\n"
        f"| Модель | {MODEL} (a1b2c3d) |\n"
        "| Этапы | vad, ctc, numbers, punctuation, casing |\n\n"
        "[00:00:00] **Оператор:** Здравствуйте. Приходите 25-го. Вам удобно?\n\n"
        "[00:00:07] Записываю, ваш _номер_.\n\n"
        "[00:00:11] **Клиент:** _Да_, спасибо.\n\n"
        "[00:00:12] **Оператор:** До свидания.\n"
    )


def test_markdown_options(interview: Transcript) -> None:
    text = text_of(MarkdownWriter(title="Звонок", metadata=False, timestamps=False), interview)
    assert text.startswith("# Звонок\n\n**Оператор:** Здравствуйте.")
    assert "_" not in text and "|" not in text  # no review marks unless asked, no table


def test_markdown_escapes_what_would_become_markup() -> None:
    transcript = Transcript.from_text("1. пункт *звёздочки* и a_b <тег>")
    body = text_of(MarkdownWriter(metadata=False), transcript).split("\n\n")[1]
    assert body == "1\\. пункт \\*звёздочки\\* и a\\_b \\<тег\\>\n"
    assert escape_markdown("- список") == "\\- список"


# ---------------------------------------------------------------- docx


def test_docx_has_title_metadata_paragraphs_and_review_marks(interview: Transcript) -> None:
    data = bytes_of(DocxWriter(review_below=0.5), interview)
    document = docx.Document(io.BytesIO(data))
    title, *rest = document.paragraphs
    assert (title.text, title.style.name) == ("call", "Title")
    rows = {row.cells[0].text: row.cells[1].text for row in document.tables[0].rows}
    assert rows == {
        "Файл": "call.wav",
        "Длительность": "00:00:14",
        "Дата": "2026-03-01 10:20 UTC",
        "Модель": f"{MODEL} (a1b2c3d)",
        "Этапы": "vad, ctc, numbers, punctuation, casing",
    }
    paragraphs = [p for p in rest if p.text]
    assert [p.text for p in paragraphs] == [
        "[00:00:00] Оператор: Здравствуйте. Приходите 25-го. Вам удобно?",
        "[00:00:07] Записываю, ваш номер.",
        "[00:00:11] Клиент: Да, спасибо.",
        "[00:00:12] Оператор: До свидания.",
    ]
    bold = [r.text for p in paragraphs for r in p.runs if r.bold]
    assert bold == ["Оператор: ", "Клиент: ", "Оператор: "]
    marked = [r.text for p in paragraphs for r in p.runs if r.font.highlight_color is not None]
    assert marked == ["номер", "Да"]
    properties = document.core_properties
    assert properties.title == "call"
    assert properties.created == dt.datetime(2026, 3, 1, 10, 20, 30, tzinfo=dt.timezone.utc)


def test_docx_is_the_same_bytes_every_time_and_marks_nothing_by_default(
    interview: Transcript,
) -> None:
    first = bytes_of(DocxWriter(), interview)
    assert bytes_of(DocxWriter(), interview) == first
    document = docx.Document(io.BytesIO(first))
    runs = [r for p in document.paragraphs for r in p.runs]
    assert runs and all(r.font.highlight_color is None for r in runs)
    undated = bytes_of(DocxWriter(), replace(interview, metadata=Metadata()))
    assert bytes_of(DocxWriter(), replace(interview, metadata=Metadata())) == undated


# ---------------------------------------------------------------- subtitles


def test_srt_cues_of_the_call(interview: Transcript) -> None:
    assert text_of(SrtWriter(), interview) == (
        "1\n00:00:00,000 --> 00:00:01,000\nЗдравствуйте.\n\n"  # lengthened to 1 s
        "2\n00:00:01,000 --> 00:00:02,600\nПриходите 25-го.\n\n"  # ends with "пятого"
        "3\n00:00:04,000 --> 00:00:05,000\nВам удобно?\n\n"
        "4\n00:00:07,000 --> 00:00:10,500\nЗаписываю, ваш номер.\n\n"
        "5\n00:00:11,000 --> 00:00:12,000\nДа, спасибо.\n\n"
        "6\n00:00:12,500 --> 00:00:13,500\nДо свидания.\n\n"
    )


def test_vtt_names_the_speakers_as_voices(interview: Transcript) -> None:
    text = text_of(VttWriter(), interview)
    assert text.startswith(
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.000\n<v Оператор>Здравствуйте.\n\n"
        "00:00:01.000 --> 00:00:02.600\n<v Оператор>Приходите 25-го.\n"
    )
    assert "00:00:11.000 --> 00:00:12.000\n<v Клиент>Да, спасибо.\n" in text
    assert len(parse_vtt(text)) == 6
    odd = Transcript(segments=(Segment(0, 1, (Word("да", 0, 1),), speaker="A<B>"),))
    assert "<v A&lt;B&gt;>да" in text_of(VttWriter(), odd)


SENTENCE = (
    "Мы обсудили условия договора, сроки поставки и порядок оплаты, "
    "а также ответственность сторон при нарушении обязательств."
)


def spaced(text: str, step: float, start: float = 0.0, speaker: str | None = None) -> Segment:
    """Words ``step`` seconds apart, each lasting 0.8 of a step."""
    items = tuple(
        Word(w, round(start + i * step, 3), round(start + i * step + 0.8 * step, 3), 0.9)
        for i, w in enumerate(text.split())
    )
    return Segment(items[0].start, items[-1].end, items, speaker)


def test_a_long_sentence_is_cut_after_a_comma_in_balanced_lines() -> None:
    cues = build_cues(Transcript(segments=(spaced(SENTENCE, 0.3),)))
    assert [(c.start, c.end, c.lines) for c in cues] == [
        (0.0, 2.64, ("Мы обсудили условия договора,", "сроки поставки и порядок оплаты,")),
        (2.7, 4.74, ("а также ответственность сторон", "при нарушении обязательств.")),
    ]


def test_a_slow_sentence_is_cut_to_seven_seconds_at_commas() -> None:
    cues = build_cues(Transcript(segments=(spaced(SENTENCE, 0.8),)))
    assert [(c.start, c.end, c.lines) for c in cues] == [
        (0.0, 3.04, ("Мы обсудили условия договора,",)),
        (3.2, 7.04, ("сроки поставки и порядок оплаты,",)),
        (7.2, 12.64, ("а также ответственность сторон", "при нарушении обязательств.")),
    ]


def test_cues_keep_the_limits_and_one_speakers_cues_never_overlap() -> None:
    rng = np.random.default_rng(7)
    vocabulary = SENTENCE.split() + ["Да.", "Нет?", "хорошо,", "конечно", "понятно."]
    segments = []
    for index in range(40):
        speaker = ("Оператор", "Клиент")[index % 2]
        step = float(rng.uniform(0.2, 0.9))
        text = " ".join(rng.choice(vocabulary, size=int(rng.integers(1, 11.5 / step))))
        # Crosstalk: a long segment runs into the other speaker's next one (6 s on).
        segments.append(spaced(text, step, index * 6.0, speaker))
    # A merged word that runs past the start of the next word (overlapping word times).
    first = spaced("двадцать пятого мая.", 0.5, 0.0, "Оператор")
    merged = Word("25-го", first.words[0].start, first.words[2].start + 0.3, 0.9)
    segments[0] = replace(first, words=(merged, first.words[2]))
    transcript = Transcript(segments=tuple(segments), duration=260.0)
    for limits in ({}, {"max_line_chars": 20, "max_lines": 1, "max_duration": 3.0}):
        writer = SrtWriter(**limits)
        cues = parse_srt(text_of(writer, transcript))
        assert all(len(line) <= writer.max_line_chars for c in cues for line in c[3])
        assert all(1 <= len(c[3]) <= writer.max_lines for c in cues)
        assert all(0 <= end - start <= writer.max_duration + 1e-9 for _, start, end, _ in cues)
        objects = build_cues(transcript, **limits, min_duration=writer.min_duration)
        assert [list(c.lines) for c in objects] == [c[3] for c in cues]
        for speaker in ("Оператор", "Клиент"):
            own = [c for c in objects if c.speaker == speaker]
            assert all(a.end <= b.start for a, b in zip(own, own[1:], strict=False))
            spoken = " ".join(line for c in own for line in c.lines).split()
            said = [w.text for s in segments if s.speaker == speaker for w in s.words]
            assert spoken == said
        assert any(  # the other speaker's cues may overlap
            a.end > b.start and a.speaker != b.speaker
            for a, b in zip(objects, objects[1:], strict=False)
        )


def test_short_cues_are_lengthened_into_silence_and_one_speaker_never_overlaps() -> None:
    def said(speaker: str, text: str, start: float, end: float) -> Segment:
        return Segment(start, end, (Word(text, start, end),), speaker)

    transcript = Transcript(
        segments=(
            said("Клиент", "Да.", 0.0, 0.3),
            said("Оператор", "Нет.", 0.4, 0.7),
            said("Клиент", "Так.", 0.6, 0.9),  # crosstalk: starts before "Нет." ends
            said("Клиент", "Ага.", 1.5, 2.5),  # its word runs past the next one's start
            said("Клиент", "Угу.", 2.2, 2.6),
        ),
        duration=3.0,
    )
    cues = build_cues(transcript, min_duration=1.0)
    assert [(c.lines[0], c.start, c.end) for c in cues] == [
        ("Да.", 0.0, 0.4),  # up to the next cue
        ("Нет.", 0.4, 0.7),  # the crosstalk stays: both speakers speak
        ("Так.", 0.6, 1.5),
        ("Ага.", 1.5, 2.2),  # cut off where the same speaker goes on
        ("Угу.", 2.2, 3.0),  # not past the end of the audio
    ]
    assert [c.end for c in build_cues(transcript)] == [0.3, 0.7, 0.9, 2.2, 2.6]


# ---------------------------------------------------------------- speakers by channel


class Tones:
    """A stand-in recognizer: one word per segment with sound, naming the tone it hears.

    Options:
        level: RMS below which a segment is silence.
    """

    def __init__(self, *, level: float = 0.05) -> None:
        self.level = level

    def __call__(self, transcript: Transcript) -> Transcript:
        def hear(segment: Segment) -> Segment:
            samples = transcript.audio.read(segment.start, segment.end, channel=segment.channel)
            if not len(samples) or np.sqrt(np.mean(samples**2)) < self.level:
                return segment
            spectrum = np.abs(np.fft.rfft(samples))
            hz = np.fft.rfftfreq(len(samples), 1 / SAMPLE_RATE)[np.argmax(spectrum)]
            word = Word(f"тон{round(hz)}", segment.start + 0.1, segment.end - 0.1, 0.9)
            return replace(segment, words=(word,))

        return transcript.map_segments(hear)


@pytest.fixture(autouse=True)
def tones():
    register_stage("t_tones")(Tones)
    yield
    stage_registry.unregister("t_tones")


def stereo(path: Path) -> Path:
    """Five seconds: a 440 Hz tone on the left at 0-1 s and 3-4 s, 880 Hz on the right at
    1-2 s. A downmix would hear each tone on both channels."""
    t = np.arange(5 * SAMPLE_RATE) / SAMPLE_RATE
    left, right = np.zeros_like(t), np.zeros_like(t)
    for start, end in ((0, 1), (3, 4)):
        on = (t >= start) & (t < end)
        left[on] = 0.3 * np.sin(2 * np.pi * 440 * t[on])
    on = (t >= 1) & (t < 2)
    right[on] = 0.3 * np.sin(2 * np.pi * 880 * t[on])
    sf.write(path, np.stack([left, right], axis=1).astype("float32"), SAMPLE_RATE)
    return path


def test_each_channel_is_its_own_speaker_merged_in_time_order(tmp_path: Path) -> None:
    config = {
        "pipeline": ["vad", "t_tones"],
        "stages": {"vad": {"mode": "fixed", "fixed_s": 1.0}},
        "input": {"channels": True, "speakers": ["Оператор", "Клиент"]},
    }
    transcript = Pipeline.from_config(config)(stereo(tmp_path / "call.wav"))
    turns = [(t.speaker, t.start, t.text) for t in transcript.turns()]
    assert turns == [
        ("Оператор", 0.1, "тон440"),
        ("Клиент", 1.1, "тон880"),
        ("Оператор", 3.1, "тон440"),
    ]
    starts = [s.start for s in transcript.segments]
    assert starts == sorted(starts)
    assert {(s.speaker, s.channel) for s in transcript.segments} == {("Оператор", 0), ("Клиент", 1)}
    mono = Pipeline.from_config({**config, "input": {}})(stereo(tmp_path / "call.wav"))
    assert {t.speaker for t in mono.turns()} == {None}


def invoke(*args: str | Path):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


FORMATS = ("json", "txt", "md", "docx", "srt", "vtt")


def test_transcribe_channels_and_render_give_the_same_bytes(tmp_path: Path) -> None:
    source = stereo(tmp_path / "call.wav")
    direct, rendered = tmp_path / "direct", tmp_path / "rendered"
    options = ("--stages", "vad,t_tones", "--set", "stages.vad.mode=fixed")
    options += ("--set", "stages.vad.fixed_s=1", "--set", "writers.md.review_below=0.95")
    invoke("transcribe", source, "--channels", "-f", ",".join(FORMATS), "-o", direct, *options)
    assert (direct / "call.txt").read_text(encoding="utf-8") == (
        "[00:00:00] Спикер 1: тон440\n\n"
        "[00:00:01] Спикер 2: тон880\n\n"
        "[00:00:03] Спикер 1: тон440\n"
    )
    saved = Transcript.from_json((direct / "call.json").read_text(encoding="utf-8"))
    assert [(s.speaker, s.text) for s in saved.segments if s.words] == [
        ("Спикер 1", "тон440"),
        ("Спикер 2", "тон880"),
        ("Спикер 1", "тон440"),
    ]
    assert "<v Спикер 2>тон880" in (direct / "call.vtt").read_text(encoding="utf-8")
    assert "**Спикер 1:** _тон440_" in (direct / "call.md").read_text(encoding="utf-8")
    document = docx.Document(str(direct / "call.docx"))
    assert "[00:00:01] Спикер 2: тон880" in [p.text for p in document.paragraphs]

    set_md = ("--set", "writers.md.review_below=0.95")
    invoke("render", direct / "call.json", "-f", ",".join(FORMATS), "-o", rendered, *set_md)
    for fmt in FORMATS:
        assert (rendered / f"call.{fmt}").read_bytes() == (direct / f"call.{fmt}").read_bytes()


def test_speaker_names_come_from_the_config(tmp_path: Path) -> None:
    source = stereo(tmp_path / "call.wav")
    options = ("--stages", "vad,t_tones", "--set", "stages.vad.mode=fixed")
    options += ("--set", "stages.vad.fixed_s=1", "--set", "input.speakers=[Оператор, Клиент]")
    invoke("transcribe", source, "--channels", "-o", tmp_path, "-f", "txt", *options)
    assert (tmp_path / "call.txt").read_text(encoding="utf-8") == (
        "[00:00:00] Оператор: тон440\n\n[00:00:01] Клиент: тон880\n\n[00:00:03] Оператор: тон440\n"
    )


def test_get_writer_passes_config_options(interview: Transcript) -> None:
    writer = get_writer("docx", {"review_below": 0.5, "title": "Звонок"})
    document = docx.Document(io.BytesIO(bytes_of(writer, interview)))
    assert document.paragraphs[0].text == "Звонок"


# ---------------------------------------------------------------- the documentation

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"(?:<!-- (?P<mark>[^>]*?) -->\n)?```(?P<lang>\w*)\n(?P<body>.*?)```", re.S)


def test_docs_examples_run_and_show_real_output(tmp_path: Path, monkeypatch) -> None:
    blocks = list(BLOCK.finditer((ROOT / "docs" / "transcripts.md").read_text(encoding="utf-8")))
    (tmp_path / "examples").mkdir()
    shutil.copy(ROOT / "examples" / "call.json", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    renders = [
        line
        for b in blocks
        if b["lang"] == "bash"
        for line in b["body"].replace("\\\n", " ").splitlines()
        if line.startswith("asr-pipeline render examples/")
    ]
    assert len(renders) == 3
    for line in renders:
        invoke(*shlex.split(line)[1:])
    checked = 0
    for index, block in enumerate(blocks):
        mark = block["mark"] or ""
        if mark.startswith("output:"):
            fmt, *options = shlex.split(mark.removeprefix("output:"))
            target = tmp_path / f"check{index}"
            invoke("render", "examples/call.json", "-f", fmt, "-o", target, *options)
            assert (target / f"call.{fmt}").read_text(encoding="utf-8") == block["body"], fmt
            checked += 1
        elif mark == "run":
            stdout = io.StringIO()
            with contextlib.redirect_stdout(stdout):
                exec(compile(block["body"], f"transcripts.md block {index}", "exec"), {})
            following = blocks[index + 1] if index + 1 < len(blocks) else None
            if following is not None and following["mark"] == "prints":
                assert stdout.getvalue() == following["body"]
            checked += 1
    assert checked == 7
    assert (tmp_path / "out" / "call-table.docx").exists()
