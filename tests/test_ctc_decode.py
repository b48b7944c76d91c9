"""The ctc stage's exact behaviour, checked with a model double that emits prescribed logits.

The double reads a label id encoded in the audio of each 320-sample frame and emits a one-hot
distribution for it, so windows, batches, stitching, decoding and timing all run through the
real code and every word and time is known in advance.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from asr_pipeline import Audio, Segment, Transcript
from asr_pipeline.ctc import CtcVocabulary, GreedyDecoder, Recognizer
from asr_pipeline.ctc.backend import conv_output_length
from asr_pipeline.ctc.batching import Piece, pack_batches, plan_windows, read_segments, stitch
from asr_pipeline.ctc.confidence import METHODS

VOCAB = json.loads((Path(__file__).parent / "fixtures" / "ru_vocab.json").read_text("utf-8"))
LABELS = tuple(sorted(VOCAB, key=VOCAB.get))
VOCABULARY = CtcVocabulary(LABELS, blank=0, delimiter=VOCAB["|"], ignored=frozenset({1, 2, 3}))
FRAME = 320
FRAME_S = FRAME / 16_000
PROB = 0.9
max_prob = GreedyDecoder(VOCABULARY, METHODS["max_prob"])


class FrameCodeBackend:
    """A stand-in for the acoustic model: frame k's label is the audio at its centre x 100."""

    frame_samples = FRAME
    vocabulary_size = len(LABELS)
    kernels = (10, 3, 3, 3, 3, 2, 2)
    strides = (5, 2, 2, 2, 2, 2, 2)

    def __init__(self) -> None:
        self.batches: list[list[int]] = []

    def output_frames(self, samples: int) -> int:
        return conv_output_length(samples, self.kernels, self.strides)

    def log_probs(self, batch):
        self.batches.append([len(x) for x in batch])
        out = []
        for x in batch:
            frames = self.output_frames(len(x))
            ids = np.rint(x[np.arange(frames) * FRAME + FRAME // 2] * 100).astype(int)
            lp = np.full((frames, self.vocabulary_size), np.log((1 - PROB) / 39), np.float32)
            lp[np.arange(frames), ids] = np.log(PROB)
            out.append(lp)
        return out


def frames_for(text: str, letter_frames: int = 3, gap_frames: int = 2) -> list[int]:
    """Frame labels that spell ``text``: each letter held, blanks between letters, ``|`` between
    and around words."""
    frames: list[int] = [0] * gap_frames
    for word in text.split():
        for letter in word:
            frames += [VOCAB[letter]] * letter_frames + [0] * gap_frames
        frames += [VOCAB["|"]] * 2 + [0] * gap_frames
    return frames


def audio_with(
    placements: list[tuple[float, str]],
    seconds: float,
    channels: int = 1,
    channel_of: dict[int, int] | None = None,
) -> Audio:
    """Audio whose frames carry the labels of each text placed at its start time (seconds)."""
    labels = np.zeros((channels, round(seconds / FRAME_S)), dtype=np.int64)
    for i, (start, text) in enumerate(placements):
        first = round(start / FRAME_S)
        codes = frames_for(text)
        labels[(channel_of or {}).get(i, 0), first : first + len(codes)] = codes
    samples = np.repeat(labels / 100.0, FRAME, axis=1).astype(np.float32)
    return Audio.from_array(samples)


def word_times(start: float, text: str, at_frame: int = 0) -> list[tuple[str, float, float]]:
    """Expected (text, start, end) of each word spelled by :func:`frames_for` at ``start``."""
    codes = frames_for(text)
    result, word, first, last = [], "", None, None
    for k, code in enumerate(codes + [VOCAB["|"]]):
        label = LABELS[code]
        if label == "|":
            if word:
                result.append(
                    (
                        word,
                        round(start + first * FRAME_S, 3),
                        round(start + (last + 1) * FRAME_S, 3),
                    )
                )
            word, first = "", None
        elif code != 0:
            if first is None:
                first = k
            if k == 0 or codes[k - 1] != code:
                word += label
            last = k
    return result


def recognizer(backend=None, *, batch_s=40.0, chunk_s=20.0, stride_s=2.0) -> Recognizer:
    return Recognizer(
        backend or FrameCodeBackend(),
        GreedyDecoder(VOCABULARY),
        batch_s=batch_s,
        chunk_s=chunk_s,
        stride_s=stride_s,
    )


def spans(transcript: Transcript) -> list[tuple[str, float, float]]:
    return [(w.text, w.start, w.end) for w in transcript.words]


# ---------------------------------------------------------------- decoding


def test_greedy_decoding_spells_words_with_frame_times_and_scores():
    codes = frames_for("привет мир")
    lp = FrameCodeBackend().log_probs([np.repeat(np.array(codes + [0, 0]) / 100.0, FRAME)])[0]
    words = GreedyDecoder(VOCABULARY).decode(lp, 10.0, FRAME_S)
    assert [w.text for w in words] == ["привет", "мир"]
    # п starts at frame 2 (after 2 blanks); т of привет ends at frame 2 + 6 * 5 - 2 - 1 = 29.
    assert (words[0].start, words[0].end) == (10.04, 10.6)
    assert [(w.text, w.start, w.end) for w in words] == word_times(10.0, "привет мир")
    assert all(w.score == pytest.approx(PROB) for w in max_prob.decode(lp, 10.0, FRAME_S))


def test_repeated_letters_need_a_blank_and_special_tokens_emit_nothing():
    a, s, blank = VOCAB["а"], VOCAB["с"], 0
    ids = [VOCAB["м"], a, s, s, blank, s, a, 1, 2, 3, VOCAB["|"], VOCAB["ё"], VOCAB["ж"]]
    lp = np.log(np.eye(40, dtype=np.float32)[ids] * 0.98 + 0.0005)
    words = GreedyDecoder(VOCABULARY).decode(lp, 0.0, FRAME_S)
    assert [w.text for w in words] == ["масса", "ёж"]
    assert words[1].start == pytest.approx(11 * FRAME_S)


def test_upper_case_labels_come_out_lower_case():
    labels = LABELS[:7] + tuple(label.upper() for label in LABELS[7:])
    vocab = CtcVocabulary(labels, 0, 4, frozenset({1, 2, 3}))
    lp = np.log(np.eye(40, dtype=np.float32)[[VOCAB["ё"], VOCAB["ж"]]] * 0.98 + 0.0005)
    assert [w.text for w in GreedyDecoder(vocab).decode(lp, 0.0, FRAME_S)] == ["ёж"]


def test_max_prob_scores_a_word_by_the_mean_winning_probability_of_its_letter_frames():
    probs = np.full((4, 40), 0.01, dtype=np.float32)
    probs[0, VOCAB["д"]] = 0.6
    probs[1, VOCAB["д"]] = 0.8
    probs[2, 0] = 0.9
    probs[3, VOCAB["а"]] = 0.4
    (word,) = GreedyDecoder(VOCABULARY, METHODS["max_prob"]).decode(np.log(probs), 0.0, FRAME_S)
    assert word.text == "да"
    assert word.score == pytest.approx((0.6 + 0.8 + 0.4) / 3, abs=1e-4)


# ---------------------------------------------------------------- windows and batches


def test_windows_overlap_and_hand_over_without_gap_or_overlap():
    windows = plan_windows(30 * 16_000, 10 * 16_000, 2 * 16_000, FRAME)
    assert [w.start / 16_000 for w in windows] == [0, 6, 12, 18, 24]
    backend = FrameCodeBackend()
    kept = []
    for w in windows:
        frames = backend.output_frames(w.end - w.start)
        end = frames if w.keep_end is None else w.keep_end
        kept.append((w.start // FRAME + w.keep_start, w.start // FRAME + end))
    assert kept[0][0] == 0
    assert all(a[1] == b[0] for a, b in zip(kept, kept[1:], strict=False))
    assert kept[-1][1] == backend.output_frames(30 * 16_000)
    assert plan_windows(16_000, 10 * 16_000, 2 * 16_000, FRAME)[0].keep_end is None


def test_stitching_keeps_each_windows_middle():
    windows = plan_windows(20 * FRAME, 8 * FRAME, 2 * FRAME, FRAME)
    parts = [(w, np.arange(w.start // FRAME, w.end // FRAME)[:, None]) for w in windows]
    assert stitch(parts)[:, 0].tolist() == list(range(20))


def test_batches_are_longest_first_within_the_budget():
    lengths = [5, 1, 9, 3, 3, 7, 2]
    pieces = [Piece(i, 0, None, np.zeros(n)) for i, n in enumerate(lengths)]
    batches = list(pack_batches(pieces, budget=12))
    flat = [p.length for b in batches for p in b]
    assert flat == sorted(lengths, reverse=True)
    assert all(len(b) * b[0].length <= 12 or len(b) == 1 for b in batches)
    assert sorted(p.key for b in batches for p in b) == list(range(len(lengths)))


class CountingAudio:
    """Wraps an Audio and counts calls to ``blocks``."""

    def __init__(self, audio: Audio) -> None:
        self.audio = audio
        self.calls = 0

    def blocks(self, *args, **kwargs):
        self.calls += 1
        yield from self.audio.blocks(*args, **kwargs)


def test_segments_are_read_in_one_pass_exactly():
    samples = np.arange(16_000 * 10, dtype=np.float32)
    audio = CountingAudio(Audio.from_array(samples))
    segments = [Segment(0.5, 2.0), Segment(1.0, 1.5), Segment(1.2, 6.0), Segment(8.0, 9.99)]
    got = dict(read_segments(audio, list(enumerate(segments)), None, block_s=0.7))
    assert audio.calls == 1
    for i, s in enumerate(segments):
        expected = samples[round(s.start * 16_000) : round(s.end * 16_000)]
        np.testing.assert_array_equal(got[i], expected)


# ---------------------------------------------------------------- whole segments


def test_words_get_absolute_times_in_their_segments():
    audio = audio_with([(2.0, "один два"), (12.34, "три")], seconds=16)
    t = Transcript(segments=(Segment(1.5, 4.0), Segment(12.3, 14.0)), audio=audio)
    out = recognizer()(t)
    assert [s.text for s in out.segments] == ["один два", "три"]
    assert spans(out) == word_times(2.0, "один два") + word_times(12.34, "три")


def test_word_across_a_window_border_appears_once_with_its_time():
    # chunk 10 s, stride 2 s: windows start at 0, 6, 12...; window 0 hands over to window 1
    # at 8 s and ends at 10 s; words straddle both.
    placements = [(7.8, "мост"), (9.9, "граница"), (13.96, "ёлка"), (27.0, "конец")]
    audio = audio_with(placements, seconds=30)
    t = Transcript(segments=(Segment(0.0, 30.0),), audio=audio)
    windowed = recognizer(chunk_s=10, stride_s=2)(t)
    whole = recognizer(chunk_s=60, stride_s=2)(t)
    expected = [w for start, text in placements for w in word_times(start, text)]
    assert spans(windowed) == expected
    assert spans(whole) == expected


def test_batch_order_is_restored_and_batches_respect_the_budget():
    texts = ["а", "бб ввв", "гггг", "дд", "е", "жжж ззз ии", "й"]
    placements, segments, at = [], [], 0.0
    for i, text in enumerate(texts):
        length = 1.5 + (i * 3 % 5)  # lengths out of order
        placements.append((at + 0.2, text))
        segments.append(Segment(at, at + length))
        at += length + 0.5
    audio = audio_with(placements, seconds=at + 1)
    backend = FrameCodeBackend()
    out = recognizer(backend, batch_s=6.0)(Transcript(segments=tuple(segments), audio=audio))
    assert [s.text for s in out.segments] == texts
    assert len(backend.batches) > 1
    for batch in backend.batches:
        assert batch == sorted(batch, reverse=True)
        assert len(batch) == 1 or len(batch) * batch[0] <= 6 * 16_000


def test_silent_and_tiny_segments_are_kept_without_words():
    audio = audio_with([(1.0, "да")], seconds=5)
    segments = (Segment(0.9, 1.5), Segment(3.0, 4.0), Segment(4.5, 4.51), Segment(4.6, 4.6))
    out = recognizer()(Transcript(segments=segments, audio=audio))
    assert [s.text for s in out.segments] == ["да", "", "", ""]
    assert [(s.start, s.end) for s in out.segments] == [(s.start, s.end) for s in segments]


def test_each_segment_reads_its_own_channel():
    audio = audio_with(
        [(0.5, "левый"), (0.5, "правый")], seconds=3, channels=2, channel_of={0: 0, 1: 1}
    )
    segments = (Segment(0, 3, speaker="A", channel=0), Segment(0, 3, speaker="B", channel=1))
    out = recognizer()(Transcript(segments=segments, audio=audio))
    assert [(s.speaker, s.text) for s in out.segments] == [("A", "левый"), ("B", "правый")]


def test_a_transcript_without_audio_is_refused():
    from asr_pipeline import AudioError

    with pytest.raises(AudioError, match="no audio"):
        recognizer()(Transcript(segments=(Segment(0, 1),), source="x.wav"))


def test_segments_stream_from_a_file_in_one_pass(tmp_path):
    sf = pytest.importorskip("soundfile")
    rng = np.random.default_rng(0)
    samples = (rng.uniform(-0.5, 0.5, 16_000 * 75)).astype(np.float32)
    path = tmp_path / "long.wav"
    sf.write(path, samples, 16_000, subtype="FLOAT")
    audio = CountingAudio(Audio.open(str(path)))
    segments = [Segment(1.0, 4.0), Segment(3.5, 40.0), Segment(62.0, 74.5)]
    got = dict(read_segments(audio, list(enumerate(segments)), None))
    assert audio.calls == 1
    for i, s in enumerate(segments):
        expected = samples[round(s.start * 16_000) : round(s.end * 16_000)]
        assert len(got[i]) == len(expected)
        np.testing.assert_allclose(got[i], expected, atol=1e-6)
