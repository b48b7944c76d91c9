"""Writers: txt, json, srt and vtt output, the writer registry, and atomic writes."""

from __future__ import annotations

import io
import json
import os
import re
import sys

import pytest

from asr_pipeline import (
    ConfigError,
    MissingDependencyError,
    Segment,
    Transcript,
    UnknownNameError,
    Word,
    register_writer,
)
from asr_pipeline.config import resolve_config
from asr_pipeline.io import atomic_write
from asr_pipeline.registry import writers as writer_registry
from asr_pipeline.writers import (
    JsonWriter,
    SrtWriter,
    TextWriter,
    VttWriter,
    get_writer,
    parse_formats,
    write_transcript,
)
from asr_pipeline.writers.subtitles import build_cues, format_timestamp

SRT_TIME = r"(\d{2,}):([0-5]\d):([0-5]\d),(\d{3})"
VTT_TIME = r"(\d{2,}):([0-5]\d):([0-5]\d)\.(\d{3})"


def timed(text: str, start: float, step: float = 0.4, speaker: str | None = None) -> Segment:
    """A segment of words ``step`` seconds apart, each lasting 0.3 s."""
    words = tuple(
        Word(w, round(start + i * step, 3), round(start + i * step + 0.3, 3), 0.9)
        for i, w in enumerate(text.split())
    )
    return Segment(start, words[-1].end, words, speaker)


LONG = (
    "Добрый день, уважаемые коллеги. Сегодня мы поговорим о том, как устроена система "
    "распознавания речи и почему она иногда ошибается на длинных записях интервью. "
    "Первое: качество звука важнее всего остального. Второе: модель должна знать словарь."
)


@pytest.fixture
def interview() -> Transcript:
    return Transcript(
        segments=(
            timed(LONG, 0.5),
            timed("Понятно. А что с цифрами & <тегами>?", 40.0, speaker="Клиент"),
            timed("Их пишем цифрами.", 45.0, speaker="Оператор"),
        ),
        source="interview.wav",
        duration=50.0,
    )


def render(writer, transcript: Transcript) -> str:
    fp = io.StringIO()
    writer.write(transcript, fp)
    return fp.getvalue()


def parse_srt(text: str) -> list[tuple[int, float, float, list[str]]]:
    """Every cue of an SRT file, checking its syntax strictly on the way."""
    assert text.endswith("\n\n") or text == ""
    cues = []
    for block in text.strip("\n").split("\n\n") if text else []:
        number, span, *lines = block.split("\n")
        match = re.fullmatch(f"{SRT_TIME} --> {SRT_TIME}", span)
        assert match, f"bad SRT time line: {span!r}"
        assert lines and all(line.strip() for line in lines), block
        cues.append((int(number), *_span(match.groups()), lines))
    return cues


def parse_vtt(text: str) -> list[tuple[float, float, list[str]]]:
    """Every cue of a WebVTT file, checking its syntax strictly on the way."""
    header, *blocks = text.rstrip("\n").split("\n\n")
    assert header == "WEBVTT"
    cues = []
    for block in blocks:
        span, *lines = block.split("\n")
        match = re.fullmatch(f"{VTT_TIME} --> {VTT_TIME}", span)
        assert match, f"bad VTT time line: {span!r}"
        assert lines and all(line.strip() and "-->" not in line for line in lines), block
        cues.append((*_span(match.groups()), lines))
    return cues


def _span(groups: tuple[str, ...]) -> tuple[float, float]:
    h1, m1, s1, ms1, h2, m2, s2, ms2 = map(int, groups)
    return h1 * 3600 + m1 * 60 + s1 + ms1 / 1000, h2 * 3600 + m2 * 60 + s2 + ms2 / 1000


# ---------------------------------------------------------------- timestamps and cues


@pytest.mark.parametrize(
    ("seconds", "marker", "expected"),
    [
        (0, ",", "00:00:00,000"),
        (59.9996, ",", "00:01:00,000"),
        (3723.4567, ",", "01:02:03,457"),
        (1.5, ".", "00:00:01.500"),
        (-0.2, ",", "00:00:00,000"),
        (360000.0, ".", "100:00:00.000"),
    ],
)
def test_format_timestamp(seconds: float, marker: str, expected: str) -> None:
    assert format_timestamp(seconds, marker) == expected


def test_cues_respect_limits_and_keep_every_word(interview: Transcript) -> None:
    cues = build_cues(interview, max_line_chars=30, max_lines=2, max_duration=5.0)
    assert all(len(line) <= 30 for cue in cues for line in cue.lines)
    assert all(1 <= len(cue.lines) <= 2 for cue in cues)
    assert all(cue.end - cue.start <= 5.0 for cue in cues)
    assert " ".join(line for cue in cues for line in cue.lines) == interview.text
    assert [c.start for c in cues] == sorted(c.start for c in cues)


def test_cue_ends_at_a_sentence_end_and_never_spans_two_segments(interview: Transcript) -> None:
    cues = build_cues(interview)
    texts = [" ".join(c.lines) for c in cues]
    assert texts[0] == "Добрый день, уважаемые коллеги."
    assert "Понятно." in texts and "Их пишем цифрами." in texts
    assert [c.speaker for c in cues[-2:]] == ["Клиент", "Оператор"]


def test_cues_are_in_time_order_when_segments_are_not() -> None:
    transcript = Transcript(segments=(timed("второй", 5.0), timed("первый", 1.0)))
    assert [c.lines for c in build_cues(transcript)] == [("первый",), ("второй",)]


def test_a_word_longer_than_a_line_gets_its_own_line() -> None:
    transcript = Transcript(segments=(timed("а " + "о" * 50 + " б", 0.0),))
    cues = build_cues(transcript, max_line_chars=10)
    assert [line for c in cues for line in c.lines] == ["а", "о" * 50, "б"]


# ---------------------------------------------------------------- formats


def test_srt_is_valid_numbered_and_in_order(interview: Transcript) -> None:
    cues = parse_srt(render(SrtWriter(), interview))
    assert [c[0] for c in cues] == list(range(1, len(cues) + 1))
    assert len(cues) > 5
    starts = [c[1] for c in cues]
    assert starts == sorted(starts)
    assert all(start <= end for _, start, end, _ in cues)
    assert cues[0][1] == pytest.approx(0.5)
    assert all(len(line) <= 42 for c in cues for line in c[3])
    words = " ".join(line for c in cues for line in c[3]).split()
    assert words == interview.text.split()


def test_srt_options_change_the_cues(interview: Transcript) -> None:
    narrow = parse_srt(render(SrtWriter(max_line_chars=20, max_lines=1), interview))
    assert all(len(c[3]) == 1 and len(c[3][0]) <= 20 for c in narrow)
    assert len(narrow) > len(parse_srt(render(SrtWriter(), interview)))


def test_vtt_is_valid_escaped_and_in_order(interview: Transcript) -> None:
    text = render(VttWriter(), interview)
    cues = parse_vtt(text)
    starts = [c[0] for c in cues]
    assert starts == sorted(starts)
    assert all(start <= end for start, end, _ in cues)
    assert "&amp; &lt;тегами&gt;?" in text
    assert "<тегами>" not in text


def test_empty_transcript_gives_valid_empty_files() -> None:
    empty = Transcript()
    assert render(SrtWriter(), empty) == ""
    assert render(VttWriter(), empty) == "WEBVTT\n"
    assert render(TextWriter(), empty) == ""
    assert Transcript.from_json(render(JsonWriter(), empty)) == empty


def test_text_paragraphs_split_at_pauses_and_speaker_turns(interview: Transcript) -> None:
    text = render(TextWriter(), interview)
    paragraphs = text.rstrip("\n").split("\n\n")
    assert paragraphs == [
        f"[00:00:00] {LONG}",
        "[00:00:40] Клиент: Понятно. А что с цифрами & <тегами>?",
        "[00:00:45] Оператор: Их пишем цифрами.",
    ]
    assert text.endswith(".\n")


def test_text_pause_option_and_wrapping() -> None:
    transcript = Transcript(segments=(timed("раз два", 0.0), timed("три четыре", 1.5)))
    plain = {"timestamps": False}
    assert render(TextWriter(**plain), transcript) == "раз два три четыре\n"
    assert render(TextWriter(pause_s=0.5, **plain), transcript) == "раз два\n\nтри четыре\n"
    wrapped = render(TextWriter(width=10), Transcript.from_text("раз два три четыре пять"))
    assert wrapped == "раз два\nтри четыре\nпять\n"


def test_json_round_trips_exactly(interview: Transcript) -> None:
    text = render(JsonWriter(), interview)
    assert Transcript.from_json(text) == interview
    assert json.loads(text)["schema"] == 1
    assert "\n" not in render(JsonWriter(indent=0), interview).rstrip("\n")


# ---------------------------------------------------------------- registry and options


def test_get_writer_validates_options_by_name() -> None:
    assert get_writer("srt", {"max_lines": 1}).max_lines == 1
    with pytest.raises(UnknownNameError, match=r"writers\.srt\.max_line\b.*Did you mean"):
        get_writer("srt", {"max_line": 1})
    with pytest.raises(ConfigError, match=r"writers\.txt\.width: expected a whole number"):
        get_writer("txt", {"width": "wide"})


def test_config_writers_section_is_validated() -> None:
    config = resolve_config({"pipeline": [], "writers": {"vtt": {"max_duration": 5}}})
    assert config.writers["vtt"] == {
        "max_line_chars": 42,
        "max_lines": 2,
        "max_duration": 5.0,
        "min_duration": 1.0,
    }


def test_parse_formats_suggests_a_known_name() -> None:
    assert parse_formats("json, SRT,json") == ["json", "srt"]
    with pytest.raises(
        UnknownNameError, match="--format: unknown format 'str'. Did you mean 'srt'"
    ):
        parse_formats("txt,str")
    with pytest.raises(ConfigError, match="at least one format"):
        parse_formats(" , ")


@pytest.mark.parametrize("fmt", ["txt", "json", "srt", "vtt", "md", "docx"])
def test_every_builtin_format_builds_and_documents_its_options(fmt: str) -> None:
    from asr_pipeline.config import options_of

    writer = get_writer(fmt)
    assert writer.extension == fmt
    options = options_of(type(writer))
    assert options and all(option.help for option in options.values()), options
    assert resolve_config({"pipeline": [], "writers": {fmt: {}}}).writers[fmt]


def test_docx_without_python_docx_names_the_extra(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "docx", None)
    with pytest.raises(MissingDependencyError, match=r"asr-pipeline\[docx\]"):
        get_writer("docx")


def test_a_registered_writer_is_found() -> None:
    @register_writer("t_upper")
    class UpperWriter:
        """Upper-case text."""

        extension = "up"
        binary = False

        def write(self, transcript: Transcript, fp) -> None:
            fp.write(transcript.text.upper())

    try:
        writer = get_writer("t_upper")
        assert render(writer, Transcript.from_text("да")) == "ДА"
        assert "t_upper" in parse_formats("t_upper")
    finally:
        writer_registry.unregister("t_upper")


# ---------------------------------------------------------------- atomic writes


class Exploding:
    extension = "txt"
    binary = False

    def write(self, transcript: Transcript, fp) -> None:
        fp.write("half of it")
        raise RuntimeError("disk on fire")


def test_a_writer_that_raises_leaves_no_file(tmp_path) -> None:
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError, match="disk on fire"):
        write_transcript(Transcript.from_text("да"), target, Exploding())
    assert list(tmp_path.iterdir()) == []


def test_a_writer_that_raises_keeps_the_previous_file(tmp_path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old\n", encoding="utf-8")
    with pytest.raises(RuntimeError):
        write_transcript(Transcript.from_text("да"), target, Exploding())
    assert target.read_text(encoding="utf-8") == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_atomic_write_replaces_and_keeps_normal_permissions(tmp_path) -> None:
    target = tmp_path / "out.srt"
    write_transcript(Transcript.from_text("да"), target, TextWriter())
    assert target.read_text(encoding="utf-8") == "да\n"
    mask = os.umask(0o022)
    os.umask(mask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~mask
    with atomic_write(target, binary=True) as fp:
        fp.write(b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    assert [p.name for p in tmp_path.iterdir()] == ["out.srt"]


def test_long_paragraphs_end_at_a_sentence_end() -> None:
    sentence = "Это одно довольно длинное предложение из нескольких слов."
    transcript = Transcript(segments=(timed(" ".join([sentence] * 6), 0.0),))
    text = render(TextWriter(max_chars=150, timestamps=False), transcript)
    assert text.rstrip("\n").split("\n\n") == [" ".join([sentence] * 3)] * 2
    assert render(TextWriter(max_chars=0), transcript).count("\n") == 1
    unpunctuated = Transcript(segments=(timed("слово " * 100, 0.0),))
    text = render(TextWriter(max_chars=100, timestamps=False), unpunctuated)
    lengths = [len(p) for p in text.split("\n\n")]
    assert max(lengths) <= 200 + len("слово") and len(lengths) == 3
