"""Beam search with a KenLM language model and hotwords, on prescribed log-probabilities.

A tiny ARPA language model written here knows ``кот`` (and ``спит``) but barely ``код``; the
log-probabilities make ``д`` a little likelier than ``т``, so greedy decoding spells ``код``
and beam search, weighing the language model, ``кот``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from asr_pipeline import Audio, Segment, Transcript
from asr_pipeline.ctc import CtcVocabulary, GreedyDecoder, Recognizer
from asr_pipeline.ctc.align import align_words
from asr_pipeline.ctc.backend import conv_output_length
from asr_pipeline.ctc.beam import BeamDecoder, BeamOptions, decoder_labels
from asr_pipeline.ctc.confidence import METHODS
from asr_pipeline.ctc.language_model import (
    LanguageModelFiles,
    explicit_language_model,
    read_language_model_folder,
)
from asr_pipeline.errors import ConfigError, MissingDependencyError, ModelError

LM_PACKAGES = ("pyctcdecode", "kenlm", "pygtrie")
if not os.environ.get("CI") and not all(map(importlib.util.find_spec, LM_PACKAGES[:2])):
    # CI installs the extra: there a missing one fails the tests instead.
    pytest.skip("needs pip install 'asr-pipeline[lm]'", allow_module_level=True)


@pytest.fixture(autouse=True, scope="module")
def _unimport_lm_packages():
    """Leave ``sys.modules`` without the [lm] packages, as this module found it: other tests
    check that greedy decoding never imports them."""
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name.split(".")[0] in LM_PACKAGES:
            del sys.modules[name]


VOCAB = json.loads((Path(__file__).parent / "fixtures" / "ru_vocab.json").read_text("utf-8"))
LABELS = tuple(sorted(VOCAB, key=VOCAB.get))
VOCABULARY = CtcVocabulary(LABELS, blank=0, delimiter=VOCAB["|"], ignored=frozenset({1, 2, 3}))
FRAME = 320
FRAME_S = FRAME / 16_000

ARPA = """\\data\\
ngram 1=6
ngram 2=4

\\1-grams:
-1.0\t<s>\t-0.3
-1.0\t</s>\t0
-3.0\t<unk>\t0
-0.5\tкот\t-0.3
-3.0\tкод\t-0.3
-0.7\tспит\t-0.3

\\2-grams:
-0.1\t<s> кот
-0.2\tкот спит
-0.2\tкот </s>
-0.1\tспит </s>

\\end\\
"""


@pytest.fixture
def arpa(tmp_path: Path) -> Path:
    path = tmp_path / "lm.arpa"
    path.write_text(ARPA, encoding="utf-8")
    return path


def beam(arpa: Path, **options) -> BeamDecoder:
    options.setdefault("workers", 1)
    return BeamDecoder(VOCABULARY, LanguageModelFiles(arpa), **options)


# ---------------------------------------------------------------- prescribed log-probabilities

Frame = str | dict[str, float]
"""A frame: one label at probability 0.9, or several labels with their probabilities."""


def distribution(frame: Frame) -> np.ndarray:
    wanted = {frame: 0.9} if isinstance(frame, str) else frame
    probs = np.full(len(LABELS), (1 - sum(wanted.values())) / (len(LABELS) - len(wanted)))
    for label, p in wanted.items():
        probs[VOCAB[label]] = p
    return probs


def spell(*words: list[Frame]) -> list[Frame]:
    """Frames spelling ``words``: each letter held two frames, blanks between letters, ``|``
    between words."""
    frames: list[Frame] = ["<pad>"]
    for i, word in enumerate(words):
        if i:
            frames += ["|", "<pad>"]
        for letter in word:
            frames += [letter, letter, "<pad>"]
    return frames


def log_probs(frames: list[Frame]) -> np.ndarray:
    return np.log(np.stack([distribution(f) for f in frames])).astype(np.float32)


AMBIGUOUS_T = {"д": 0.5, "т": 0.4}
KOT_SPIT = spell(["к", "о", AMBIGUOUS_T], ["с", "п", "и", "т"])


def spans(words) -> list[tuple[str, float, float]]:
    return [(w.text, w.start, w.end) for w in words]


# ---------------------------------------------------------------- beam search


def test_beam_search_picks_the_spelling_the_language_model_prefers(arpa: Path) -> None:
    lp = log_probs(KOT_SPIT)
    assert [w.text for w in GreedyDecoder(VOCABULARY).decode(lp, 0.0, FRAME_S)] == ["код", "спит"]
    assert [w.text for w in beam(arpa).decode(lp, 0.0, FRAME_S)] == ["кот", "спит"]


def test_alpha_zero_leaves_the_acoustic_choice(arpa: Path) -> None:
    lp = log_probs(KOT_SPIT)
    assert [w.text for w in beam(arpa, alpha=0.0, beta=0.0).decode(lp, 0.0, FRAME_S)] == [
        "код",
        "спит",
    ]


def test_a_hotword_flips_the_result(arpa: Path) -> None:
    lp = log_probs(KOT_SPIT)
    assert [w.text for w in beam(arpa, hotwords=["код"]).decode(lp, 0.0, FRAME_S)][0] == "код"
    assert [w.text for w in beam(arpa, hotwords=["код"], hotword_weight=0.0).decode(
        lp, 0.0, FRAME_S
    )][0] == "кот"  # fmt: skip


def test_a_calls_own_terms_are_hotwords_for_that_call_only(arpa: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from asr_pipeline.terms import call_terms

    lp = log_probs(KOT_SPIT)
    decoder = beam(arpa)

    def first_word(terms: tuple[str, ...]) -> str:
        with call_terms(terms):
            return decoder.decode(lp, 0.0, FRAME_S)[0].text

    assert first_word(("Код",)) == "код"  # the request's term, in the model's case
    assert decoder.decode(lp, 0.0, FRAME_S)[0].text == "кот"  # gone after the call
    with ThreadPoolExecutor(4) as pool:  # each thread's call sees only its own terms
        found = list(pool.map(first_word, [("код",), (), ("код",), ()] * 4))
    assert found == ["код", "кот", "код", "кот"] * 4


def test_the_user_vocabulary_feeds_hotwords_in_the_models_case(arpa, tmp_path) -> None:
    vocabulary = tmp_path / "terms.txt"
    vocabulary.write_text("# brands\nКод\niPhone\n", encoding="utf-8")
    hotwords = tmp_path / "hot.txt"
    hotwords.write_text("спит\n", encoding="utf-8")
    options = BeamOptions(
        lm=str(arpa), hotwords=("кот",), hotwords_file=str(hotwords), vocabulary=str(vocabulary)
    )
    assert options.all_hotwords() == ["кот", "спит", "Код", "iPhone"]
    decoder = options.build(VOCABULARY, "unused", None)
    assert decoder.hotwords == ["кот", "спит", "код"]  # iPhone: letters the model lacks


def test_word_times_and_scores_match_greedy_when_the_words_agree(arpa: Path) -> None:
    lp = log_probs(spell(["к", "о", "т"], ["с", "п", "и", "т"]))
    frames_alone = replace(METHODS["entropy"], posterior=False)
    greedy = GreedyDecoder(VOCABULARY, frames_alone).decode(lp, 1.5, FRAME_S)
    beamed = beam(arpa, confidence=frames_alone).decode(lp, 1.5, FRAME_S)
    assert spans(beamed) == spans(greedy)
    assert [w.score for w in beamed] == pytest.approx([w.score for w in greedy], abs=1e-3)
    # With the N-best posterior (the default), at most the frame confidence's square root.
    default = beam(arpa).decode(lp, 1.5, FRAME_S)
    assert spans(default) == spans(greedy)
    for word, frames in zip(default, greedy, strict=True):
        assert 0.0 < word.score <= frames.score**0.5 + 1e-4


def test_word_times_match_greedy_within_a_frame_when_the_spelling_differs(arpa: Path) -> None:
    lp = log_probs(KOT_SPIT)
    greedy = GreedyDecoder(VOCABULARY).decode(lp, 3.0, FRAME_S)
    beamed = beam(arpa).decode(lp, 3.0, FRAME_S)
    assert len(beamed) == len(greedy) == 2
    for b, g in zip(beamed, greedy, strict=True):
        assert abs(b.start - g.start) <= FRAME_S + 1e-9
        assert abs(b.end - g.end) <= FRAME_S + 1e-9
    clear = beam(arpa).decode(log_probs(spell(["к", "о", "т"], ["с", "п", "и", "т"])), 3.0, FRAME_S)
    assert 0.0 <= beamed[0].score < clear[0].score <= 1.0  # the т frames were only 0.4 likely


def test_special_tokens_emit_nothing(arpa: Path) -> None:
    frames = spell(["к", "о", "т"])
    frames[2] = "<unk>"  # the second frame of к
    frames.insert(0, "<s>")
    words = beam(arpa).decode(log_probs(frames), 0.0, FRAME_S)
    assert [w.text for w in words] == ["кот"]


def test_an_upper_case_language_model_still_matches(tmp_path: Path) -> None:
    path = tmp_path / "upper.arpa"
    path.write_text(ARPA.replace("кот", "КОТ").replace("код", "КОД").replace("спит", "СПИТ"))
    decoder = BeamDecoder(VOCABULARY, LanguageModelFiles(path), workers=1, hotwords=["Спит"])
    assert decoder.case == "upper" and decoder.hotwords == ["СПИТ"]
    assert [w.text for w in decoder.decode(log_probs(KOT_SPIT), 0.0, FRAME_S)] == ["кот", "спит"]


def test_labels_follow_output_ids() -> None:
    labels = decoder_labels(VOCABULARY)
    assert labels[0] == "" and labels[VOCAB["|"]] == " " and labels[VOCAB["ё"]] == "ё"
    specials = labels[1:4]
    assert len(set(specials)) == 3 and not any(c.isprintable() and c.isalpha() for c in specials)
    assert decoder_labels(VOCABULARY, "upper")[VOCAB["я"]] == "Я"


def test_empty_and_silent_segments_have_no_words(arpa: Path) -> None:
    decoder = beam(arpa)
    assert decoder.decode(np.zeros((0, len(LABELS)), np.float32), 0.0, FRAME_S) == []
    assert decoder.decode(log_probs(["<pad>"] * 10), 0.0, FRAME_S) == []


def test_a_pool_decodes_a_batch_like_one_process(arpa: Path) -> None:
    items = [
        (log_probs(KOT_SPIT), 0.0),
        (log_probs(spell(["с", "п", "и", "т"])), 2.0),
        (log_probs(["<pad>"] * 5), 4.0),
        (log_probs(spell(["к", "о", "т"])), 6.0),
    ]
    alone = beam(arpa, workers=1).decode_batch(items, FRAME_S)
    pooled_decoder = beam(arpa, workers=2)
    try:
        pooled = pooled_decoder.decode_batch(items, FRAME_S)
        assert pooled_decoder._pool is not None
        again = pooled_decoder.decode_batch(items, FRAME_S)  # the same pool, reused
    finally:
        pooled_decoder.close()
    assert pooled == alone == again
    assert [[w.text for w in words] for words in alone] == [["кот", "спит"], ["спит"], [], ["кот"]]


# ---------------------------------------------------------------- through the recognizer


class RowBackend:
    """A stand-in acoustic model: each 320-sample frame carries a row number (audio x 100)
    and emits that row of a table of prescribed distributions."""

    frame_samples = FRAME
    vocabulary_size = len(LABELS)

    def __init__(self, rows: list[np.ndarray]) -> None:
        self.rows = np.log(np.stack(rows)).astype(np.float32)

    def output_frames(self, samples: int) -> int:
        return conv_output_length(samples, (10, 3, 3, 3, 3, 2, 2), (5, 2, 2, 2, 2, 2, 2))

    def log_probs(self, batch):
        return [
            self.rows[np.rint(x[np.arange(self.output_frames(len(x))) * FRAME + FRAME // 2] * 100)
            .astype(int)]
            for x in batch
        ]  # fmt: skip


def test_recognizer_times_beam_words_like_greedy_across_segments(arpa: Path) -> None:
    table: list[Frame] = ["<pad>"]
    codes = np.zeros(round(12.0 / FRAME_S), dtype=np.int64)
    placed = [(0.5, KOT_SPIT), (4.0, spell(["к", "о", "т"])), (8.0, spell(["с", "п", "и", "т"]))]
    for start, frames in placed:
        first = round(start / FRAME_S)
        for k, frame in enumerate(frames):
            if frame not in table:
                table.append(frame)
            codes[first + k] = table.index(frame)
    audio = Audio.from_array(np.repeat(codes / 100.0, FRAME).astype(np.float32))
    segments = tuple(Segment(start, start + 3.0) for start, _ in placed)
    transcript = Transcript(segments=segments, audio=audio, duration=12.0)
    backend = RowBackend([distribution(f) for f in table])

    def run(decoder):
        return Recognizer(backend, decoder, batch_s=40.0, chunk_s=20.0, stride_s=2.0)(transcript)

    greedy = run(GreedyDecoder(VOCABULARY))
    decoder = beam(arpa, workers=2)
    try:
        beamed = run(decoder)
    finally:
        decoder.close()
    assert [w.text for w in greedy.words] == ["код", "спит", "кот", "спит"]
    assert [w.text for w in beamed.words] == ["кот", "спит", "кот", "спит"]
    for b, g in zip(beamed.words, greedy.words, strict=True):
        assert abs(b.start - g.start) <= FRAME_S + 1e-9 and abs(b.end - g.end) <= FRAME_S + 1e-9
    assert [len(s.words) for s in beamed.segments] == [2, 1, 1]


# ---------------------------------------------------------------- alignment


def test_alignment_needs_a_silent_frame_between_repeated_letters() -> None:
    ids = [VOCAB["н"], VOCAB["н"]]
    together = log_probs(["н", "н", "н"])
    assert align_words(together, [ids], [0, 4]) is not None  # the costly path exists
    assert align_words(together[:1], [ids], [0, 4]) is None  # one frame cannot hold two letters
    spans_ = align_words(log_probs(["н", "<pad>", "н"]), [ids], [0, 4])
    assert spans_ is not None and (spans_[0].first, spans_[0].end) == (0, 3)


def test_a_segment_too_long_to_align_keeps_pyctcdecodes_offsets(arpa, monkeypatch) -> None:
    import asr_pipeline.ctc.align

    monkeypatch.setattr(asr_pipeline.ctc.align, "MAX_CELLS", 0)
    words = beam(arpa).decode(log_probs(KOT_SPIT), 1.0, FRAME_S)
    assert [w.text for w in words] == ["кот", "спит"]
    assert all(1.0 <= w.start < w.end for w in words)
    assert words[0].end <= words[1].start
    clear = beam(arpa).decode(log_probs(spell(["к", "о", "т"], ["с", "п", "и", "т"])), 1.0, FRAME_S)
    assert 0.0 <= words[0].score < clear[0].score <= 1.0  # still scored: кот's т was doubtful


# ---------------------------------------------------------------- options and files


@pytest.mark.parametrize("hidden", ["pyctcdecode", "kenlm"])
def test_missing_extra_names_the_install_command(monkeypatch, hidden: str) -> None:
    monkeypatch.setitem(sys.modules, hidden, None)
    with pytest.raises(
        MissingDependencyError, match=rf"\({hidden}\): pip install 'asr-pipeline\[lm\]'"
    ):
        BeamOptions().check("beam")
    from asr_pipeline.ctc import CtcStage

    # Refused before any model is loaded: this model does not exist.
    with pytest.raises(MissingDependencyError, match=r"asr-pipeline\[lm\]"):
        CtcStage(model="no/such-model", decoder="beam", device="cpu")


def test_beam_options_are_refused_with_greedy(arpa: Path) -> None:
    with pytest.raises(ConfigError, match=r"stages\.ctc\.lm.*decoder: beam"):
        BeamOptions(lm=str(arpa)).check("greedy")
    with pytest.raises(ConfigError, match="hotwords"):
        BeamOptions(hotwords=("кот",)).check("greedy")
    BeamOptions(vocabulary=str(arpa)).check("greedy")  # handed to every stage: no error
    with pytest.raises(ConfigError, match=r"stages\.ctc\.decoder"):
        BeamOptions().check("viterbi")
    with pytest.raises(ConfigError, match=r"stages\.ctc\.unigrams: no such file"):
        BeamOptions(lm=str(arpa), unigrams="missing.txt").check("beam")


def test_the_language_model_folder_gives_files_and_weights(tmp_path: Path) -> None:
    folder = tmp_path / "language_model"
    folder.mkdir()
    assert read_language_model_folder(folder) is None
    (folder / "lm.arpa").write_text(ARPA, encoding="utf-8")
    (folder / "unigrams.txt").write_text("кот\nспит\n", encoding="utf-8")
    (folder / "attrs.json").write_text(json.dumps({"alpha": 0.8, "beta": 2.0}), encoding="utf-8")
    files = read_language_model_folder(folder)
    assert files is not None and files.model.name == "lm.arpa"
    assert files.unigrams == folder / "unigrams.txt" and files.attrs["alpha"] == 0.8
    decoder = BeamDecoder(VOCABULARY, files, workers=1)
    assert (decoder.alpha, decoder.beta) == (0.8, 2.0)
    assert (BeamDecoder(VOCABULARY, files, alpha=0.1, workers=1).alpha) == 0.1
    assert explicit_language_model(str(folder), None).model == files.model
    with pytest.raises(ConfigError, match="expected a KenLM model"):
        explicit_language_model(str(folder / "unigrams.txt"), None)


def test_a_broken_language_model_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "lm.arpa"
    broken.write_text("\\data\\\nngram 1=1\n\n\\1-grams:\n-1.0\tкот\n\n\\end\\\n")
    with pytest.raises(ModelError, match="lm.arpa"):
        BeamDecoder(VOCABULARY, LanguageModelFiles(broken), workers=1)


def test_a_language_model_for_another_alphabet_warns(tmp_path: Path) -> None:
    path = tmp_path / "latin.arpa"
    path.write_text(ARPA.replace("кот", "cat").replace("код", "code").replace("спит", "sleeps"))
    with pytest.warns(UserWarning, match="not in the acoustic model's alphabet"):
        BeamDecoder(VOCABULARY, LanguageModelFiles(path), workers=1)


# ---------------------------------------------------------------- the stage and the CLI


def test_the_stage_decodes_with_the_models_own_language_model(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from asr_pipeline.ctc import CtcStage
    from tests.tiny_model import save_tiny_model

    folder = save_tiny_model(tmp_path / "model", language_model=True)
    for old in (folder / "language_model").glob("*.arpa"):
        old.unlink()
    (folder / "language_model" / "lm.arpa").write_text(ARPA, encoding="utf-8")
    (folder / "language_model" / "attrs.json").write_text(json.dumps({"alpha": 0.7, "beta": 1.0}))
    stage = CtcStage(model=str(folder), device="cpu", decoder="beam", decode_workers=1)
    assert isinstance(stage.decoder, BeamDecoder)
    assert (stage.decoder.alpha, stage.decoder.beta) == (0.7, 1.0)
    rng = np.random.default_rng(0)
    audio = Audio.from_array(rng.normal(0, 0.1, 16_000 * 4).astype(np.float32))
    result = stage(Transcript(segments=(Segment(0.0, 2.0), Segment(2.0, 4.0)), audio=audio))
    for segment in result.segments:
        for word in segment.words:  # a random model: any words, but inside their segment
            assert segment.start <= word.start < word.end <= segment.end + FRAME_S
            assert word.text == word.text.lower() and word.score is not None


def test_vocabulary_flag_reaches_the_ctc_stage(tmp_path: Path) -> None:
    from asr_pipeline.cli.options import InputError, pipeline_config

    terms = tmp_path / "terms.txt"
    terms.write_text("Газпром\n", encoding="utf-8")
    config = pipeline_config(None, ["stages.ctc.decoder=beam"], None, None, None, terms)
    assert config.vocabulary == str(terms)
    assert config.stages["ctc"].options["vocabulary"] == str(terms)
    assert config.stages["ctc"].options["decoder"] == "beam"
    with pytest.raises(InputError, match="--vocabulary"):
        pipeline_config(None, None, None, None, None, tmp_path / "missing.txt")


def test_transcribe_decodes_with_beam_and_a_vocabulary_from_the_command_line(tmp_path) -> None:
    pytest.importorskip("transformers")
    from typer.testing import CliRunner

    from asr_pipeline.cli import app

    repo = Path(__file__).parent.parent
    terms = tmp_path / "terms.txt"
    terms.write_text("Газпром\n", encoding="utf-8")
    args = [
        "transcribe",
        str(repo / "examples" / "espeak_ru_sample.flac"),
        "--model",
        str(repo / "tests" / "fixtures" / "espeak-ru-tiny"),
        "--stages",
        "ctc",
        "--device",
        "cpu",
        "--set",
        "stages.ctc.decoder=beam",
        "--set",
        "stages.ctc.decode_workers=1",
        "-f",
        "json",
        "-o",
        str(tmp_path),
    ]
    result = CliRunner().invoke(app, [*args, "--vocabulary", str(terms)])
    assert result.exit_code == 0, result.output
    saved = Transcript.from_json((tmp_path / "espeak_ru_sample.json").read_text("utf-8"))
    assert saved.metadata.model.endswith("espeak-ru-tiny")
    for word in saved.words:
        assert word.start < word.end and 0.0 <= word.score <= 1.0
    missing = CliRunner().invoke(app, [*args, "--vocabulary", str(tmp_path / "none.txt")])
    assert missing.exit_code == 2 and "--vocabulary: no such file" in missing.output


def test_a_hub_models_language_model_is_found_in_the_cache_offline(tmp_path, monkeypatch) -> None:
    huggingface_hub = pytest.importorskip("huggingface_hub")
    from asr_pipeline.ctc.language_model import model_language_model
    from tests.hub_cache import add_snapshot

    commit = "c" * 40
    add_snapshot(
        tmp_path,
        "someone/ctc-with-lm",
        commit,
        {
            "config.json": b"{}",
            "language_model/lm.arpa": ARPA.encode(),
            "language_model/unigrams.txt": "кот\nспит\n".encode(),
            "language_model/attrs.json": b'{"alpha": 0.9, "beta": 2.5}',
        },
        "main",
    )
    add_snapshot(tmp_path, "someone/ctc-only", commit, {"config.json": b"{}"}, "main")
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(tmp_path))
    for revision in (commit, None):
        files = model_language_model("someone/ctc-with-lm", revision)
        assert files.model.name == "lm.arpa" and files.unigrams.name == "unigrams.txt"
        assert files.attrs == {"alpha": 0.9, "beta": 2.5}
        assert commit in str(files.model)
    decoder = BeamDecoder(VOCABULARY, files, workers=1)
    assert (decoder.alpha, decoder.beta) == (0.9, 2.5)
    with pytest.raises(ModelError, match="models download"):
        model_language_model("someone/ctc-only", commit)
    with pytest.raises(ModelError, match="models download"):
        model_language_model("someone/not-cached", None)


def test_an_lm_file_takes_its_own_unigrams(arpa: Path, tmp_path: Path) -> None:
    words = tmp_path / "words.txt"
    words.write_text("кот\n", encoding="utf-8")
    files = BeamOptions(lm=str(arpa), unigrams=str(words)).language_model("unused", None)
    assert (files.model, files.unigrams) == (arpa, words)


def test_a_calls_terms_reach_the_forked_decoding_pool(arpa: Path) -> None:
    from asr_pipeline.terms import call_terms

    lp = log_probs(KOT_SPIT)
    decoder = beam(arpa, workers=2)
    with call_terms(["код"]):
        batch = decoder.decode_batch([(lp, 0.0), (lp, 1.0)], FRAME_S)
    assert [words[0].text for words in batch] == ["код", "код"]
    assert [words[0].text for words in decoder.decode_batch([(lp, 0.0), (lp, 1.0)], FRAME_S)] == [
        "кот",
        "кот",
    ]
