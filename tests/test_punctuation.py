"""The punctuation stage: label families, windows over tokens, timings, errors, the CLI.

Tiny random token classifiers are built here (a WordPiece tokenizer trained on a few Russian
sentences, a one-layer BERT) and saved to folders, then loaded through the stage's real code.
The classifier's bias picks the label every token gets; model doubles inject predictions.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("transformers")
pytest.importorskip("tokenizers")

import torch  # noqa: E402

from asr_pipeline import ConfigError, Pipeline, Segment, Transcript, Word  # noqa: E402
from asr_pipeline.config import options_of  # noqa: E402
from asr_pipeline.errors import MissingDependencyError, ModelError  # noqa: E402
from postprocess.punctuation import (  # noqa: E402
    PunctuationStage,
    WordLabel,
    apply_label,
    model_input,
    parse_labels,
    pick_windows,
    plan_windows,
)
from postprocess.punctuation.labels import DASH  # noqa: E402

SENTENCES = [
    "мы приехали в город поздно вечером и сразу пошли в гостиницу",
    "завтра утром начнётся совещание о бюджете на следующий год",
    "кто то оставил на столе записку и ключи от машины",
    "вы слышали что поезд отменили из за сильного снега",
    "пожалуйста передайте документы в отдел кадров до пятницы",
    "сегодня на улице тепло поэтому дети играют во дворе",
    "подтверждённый заказ отправят клиенту в течение недели",
    "если вопросов нет давайте перейдём к следующему пункту",
]
PLAIN = ["0", ".", ",", "?", "-", ":"]
CASE_PUNCT = [
    f"{case}_{mark}"
    for case in ("LOWER", "UPPER", "UPPER_TOTAL")
    for mark in ("O", "PERIOD", "COMMA", "QUESTION")
]
RUPUNCT = [
    f"{case}_{mark}"
    for case in ("LOWER", "UPPER", "UPPER_TOTAL")
    for mark in ("O", "PERIOD", "COMMA", "QUESTION", "TIRE", "DVOETOCHIE", "VOSKL", "DEFIS")
]


def long_text(n_words: int) -> str:
    """Lower-case, unpunctuated words cycled from the sentences above."""
    words = " ".join(SENTENCES).split()
    return " ".join(words[i % len(words)] for i in range(n_words))


# ---------------------------------------------------------------- tiny models


def save_tokenizer(folder: Path) -> int:
    """A WordPiece tokenizer (BERT normalizer, [CLS] ... [SEP]) trained on SENTENCES; returns
    its vocabulary size."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=None)
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok.train_from_iterator(
        SENTENCES, trainers.WordPieceTrainer(vocab_size=120, special_tokens=specials)
    )
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", cls), ("[SEP]", sep)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        pad_token="[PAD]",
        mask_token="[MASK]",
    )
    fast.save_pretrained(folder)
    return tok.get_vocab_size()


def save_classifier(
    folder: Path,
    id2label: dict[int, str],
    biased: int | list[int],
    *,
    num_labels: int | None = None,
    max_positions: int = 512,
) -> Path:
    """A one-layer BERT token classifier whose bias makes every token get label ``biased``
    (a list gives falling preference: first highest)."""
    from transformers import BertConfig, BertForTokenClassification

    config = BertConfig(
        vocab_size=save_tokenizer(folder),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=max_positions,
        id2label=id2label,
        label2id={v: k for k, v in id2label.items()},
    )
    if num_labels is not None:
        config.num_labels = num_labels
        config.id2label = id2label
    torch.manual_seed(0)
    model = BertForTokenClassification(config)
    preferred = [biased] if isinstance(biased, int) else biased
    with torch.no_grad():
        model.classifier.weight.zero_()
        model.classifier.bias.zero_()
        for rank, index in enumerate(preferred):
            model.classifier.bias[index] = 10.0 - rank
    model.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def plain_comma(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("plain")
    return save_classifier(folder, dict(enumerate(PLAIN)), PLAIN.index(","))


@pytest.fixture(scope="module")
def upper_period(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("case")
    return save_classifier(folder, dict(enumerate(CASE_PUNCT)), CASE_PUNCT.index("UPPER_PERIOD"))


@pytest.fixture(scope="module")
def rupunct(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("rupunct")
    return save_classifier(folder, dict(enumerate(RUPUNCT)), RUPUNCT.index("LOWER_O"))


# ---------------------------------------------------------------- label families


def test_plain_family() -> None:
    scheme = parse_labels(dict(enumerate(PLAIN)), len(PLAIN))
    assert scheme.family == "plain"
    assert [scheme.labels[i].mark for i in range(6)] == ["", ".", ",", "?", DASH, ":"]
    assert all(label.case is None for label in scheme.labels.values())


def test_case_punct_family_shaped_like_kontur() -> None:
    """kontur-ai's config: outputs 1..12 named, output 0 unnamed, and a -100 'O' entry."""
    id2label = {i + 1: name for i, name in enumerate(CASE_PUNCT)} | {-100: "O"}
    scheme = parse_labels(id2label, 13)
    assert scheme.family == "case_punct"
    assert sorted(scheme.labels) == list(range(1, 13))
    assert scheme.labels[CASE_PUNCT.index("UPPER_PERIOD") + 1] == WordLabel(".", "upper")
    assert scheme.labels[CASE_PUNCT.index("UPPER_TOTAL_QUESTION") + 1] == WordLabel(
        "?", "upper_total"
    )
    assert scheme.labels[CASE_PUNCT.index("LOWER_O") + 1] == WordLabel("", "lower")


def test_rupunct_marks() -> None:
    names = ["LOWER_TIRE", "UPPER_DVOETOCHIE", "LOWER_VOSKL", "LOWER_MNOGOTOCHIE",
             "LOWER_PERIODCOMMA", "LOWER_DEFIS", "UPPER_QUESTIONVOSKL"]  # fmt: skip
    scheme = parse_labels(dict(enumerate(names)), len(names))
    marks = [scheme.labels[i].mark for i in range(len(names))]
    assert marks == [DASH, ":", "!", "...", ";", "-", "?!"]
    assert scheme.labels[5].joins_next and not scheme.labels[0].joins_next


def test_generic_labels_ask_for_the_labels_option() -> None:
    with pytest.raises(ConfigError, match=r"LABEL_0\.\.\.LABEL_5.*stages\.punctuation\.labels"):
        parse_labels({i: f"LABEL_{i}" for i in range(6)}, 6)


@pytest.mark.parametrize(
    "names",
    [["O", "B-PER", "I-PER"], ["0", "UPPER_PERIOD", ","], ["LOWER_O", "LOWER_SMILE"]],
    ids=["ner", "mixed", "unknown-mark"],
)
def test_unknown_scheme_is_a_config_error(names: list[str]) -> None:
    with pytest.raises(ConfigError, match="unknown label scheme"):
        parse_labels(dict(enumerate(names)), len(names))


# ---------------------------------------------------------------- words in and out


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Привет,", "привет"),
        ("«Москва»", "москва"),
        ("кто-то", "кто-то"),
        ("3,5", "3,5"),
        ("—", ""),
        ("ЁЖ!", "ёж"),
        ("%", "%"),
        ("-7", "7"),
        ("12 500", "12500"),
        ("дом —", "дом"),
    ],
)
def test_model_input_is_lower_case_without_outer_punctuation(word: str, expected: str) -> None:
    assert model_input(word) == expected


@pytest.mark.parametrize(
    ("word", "label", "expected"),
    [
        ("дом", WordLabel(",", "lower"), "дом,"),
        ("дом", WordLabel(".", "upper"), "Дом."),
        ("оон", WordLabel("", "upper_total"), "ООН"),
        ("Москва", WordLabel(",", "lower"), "Москва,"),  # capitals already there stay
        ("дом...", WordLabel("?", None), "дом?"),  # old trailing marks are replaced
        ("«дом»", WordLabel(",", "upper"), "«Дом»,"),  # quotes stay, the first letter rises
        ("дом", WordLabel(DASH, "lower"), "дом —"),
        ("—", WordLabel(",", "upper"), "—"),  # punctuation alone is left as it is
        ("дом,", None, "дом,"),  # no label: untouched
        ("%", WordLabel(".", "lower"), "%."),  # a symbol alone takes the mark
        ("дом —", WordLabel(",", "lower"), "дом,"),  # a dash from an earlier run is replaced
    ],
)
def test_apply_label(word: str, label: WordLabel | None, expected: str) -> None:
    assert apply_label(word, label) == expected


def test_apply_label_without_case() -> None:
    assert apply_label("дом", WordLabel(".", "upper"), apply_case=False) == "дом."


# ---------------------------------------------------------------- windows


@pytest.mark.parametrize("n_tokens", [1, 9, 10, 11, 37, 100, 101])
def test_windows_cover_every_token_with_overlap(n_tokens: int) -> None:
    size, overlap = 10, 3
    windows = plan_windows(n_tokens, size, overlap)
    covered = {p for start, end in windows for p in range(start, end)}
    assert covered == set(range(n_tokens))
    assert all(end - start == min(size, n_tokens) for start, end in windows)
    assert windows[-1][1] == n_tokens
    for (_, end), (start, _) in zip(windows, windows[1:], strict=False):
        assert end - start >= overlap


def test_pick_windows_prefers_the_window_with_most_context() -> None:
    windows = [(0, 10), (6, 16), (12, 22)]
    picks = pick_windows([0, 7, 9, 13, 15, 21, None], windows)
    assert picks == [(0, 0), (0, 7), (1, 3), (1, 7), (2, 3), (2, 9), None]


# ---------------------------------------------------------------- the real path, biased models


def _more_than_three_windows(stage: PunctuationStage, text: str) -> None:
    n_tokens = len(stage.classifier.encode([text.split()])[0].ids)
    assert n_tokens > 3 * stage.window


def test_plain_model_puts_a_comma_after_every_word(plain_comma: Path) -> None:
    pipe = Pipeline().add_stage("punctuation", config={"model": str(plain_comma), "device": "cpu"})
    text = long_text(400)
    _more_than_three_windows(pipe.get_stage("punctuation"), text)
    out = pipe(Transcript.from_text(text))
    assert out.text.split() == [w + "," for w in text.split()]


def test_case_punct_model_capitalises_and_ends_every_word(upper_period: Path) -> None:
    pipe = Pipeline().add_stage("punctuation", config={"model": str(upper_period)})
    text = long_text(400)
    _more_than_three_windows(pipe.get_stage("punctuation"), text)
    out = pipe(Transcript.from_text(text))
    assert out.text.split() == [w[0].upper() + w[1:] + "." for w in text.split()]


def test_apply_case_false_adds_marks_only(upper_period: Path) -> None:
    stage = PunctuationStage(model=str(upper_period), apply_case=False, window=32, overlap=8)
    assert stage(Transcript.from_text("мы приехали")).text == "мы. приехали."


def test_outputs_without_a_label_are_never_predicted(tmp_path: Path) -> None:
    """kontur-ai's shape: output 0 has no name; even when it scores highest it is skipped."""
    id2label = {i + 1: name for i, name in enumerate(CASE_PUNCT)} | {-100: "O"}
    folder = save_classifier(
        tmp_path, id2label, [0, CASE_PUNCT.index("UPPER_COMMA") + 1], num_labels=13
    )
    stage = PunctuationStage(model=str(folder))
    assert stage(Transcript.from_text("мы приехали")).text == "Мы, Приехали,"


def test_vocab_txt_tokenizer_keeps_accented_letters(tmp_path: Path) -> None:
    """kontur-ai's layout: vocab.txt and a BertTokenizer config, no tokenizer.json. A config that
    leaves strip_accents unset would read йод as иод (unknown here); the stage keeps й and ё."""
    import json

    from transformers import BertConfig, BertForTokenClassification

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "йод", "ёж", "мы", "и"]
    (tmp_path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    settings = {"tokenizer_class": "BertTokenizer", "do_lower_case": True, "strip_accents": None}
    (tmp_path / "tokenizer_config.json").write_text(json.dumps(settings))
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32,
                        id2label=dict(enumerate(CASE_PUNCT)))  # fmt: skip
    model = BertForTokenClassification(config)
    with torch.no_grad():
        model.classifier.bias.fill_(0.0)
        model.classifier.bias[CASE_PUNCT.index("UPPER_COMMA")] = 50.0
    model.half().save_pretrained(tmp_path)  # fp16 weights, like kontur-ai's
    stage = PunctuationStage(model=str(tmp_path), device="cpu")
    assert stage.classifier.network.dtype == torch.float32  # fp16 is slow on CPUs
    ids = stage.classifier.encode([["йод", "ёж"]])[0].ids
    assert stage.classifier.tokenizer.convert_ids_to_tokens(ids) == ["йод", "ёж"]
    assert stage(Transcript.from_text("мы и йод ёж")).text == "Мы, И, Йод, Ёж,"


def test_labels_option_names_generic_labels(tmp_path: Path) -> None:
    folder = save_classifier(tmp_path, {i: f"LABEL_{i}" for i in range(6)}, 1)
    with pytest.raises(ConfigError, match="stages.punctuation.labels"):
        PunctuationStage(model=str(folder))
    with pytest.raises(ConfigError, match="6 output labels but 4"):
        PunctuationStage(model=str(folder), labels=PLAIN[:4])
    pipe = Pipeline().add_stage("punctuation", config={"model": str(folder), "labels": PLAIN})
    assert pipe(Transcript.from_text("мы приехали в город")).text == "мы. приехали. в. город."


def test_existing_marks_are_replaced_and_capitals_kept(plain_comma: Path) -> None:
    stage = PunctuationStage(model=str(plain_comma))
    out = stage(Transcript.from_text("Кто-то приехал! «Москва» ждёт..."))
    assert out.text == "Кто-то, приехал, «Москва», ждёт,"


def test_pipe_batches_several_transcripts(plain_comma: Path) -> None:
    pipe = Pipeline().add_stage("punctuation", config={"model": str(plain_comma), "window": 16,
                                                       "overlap": 4, "batch_size": 3})  # fmt: skip
    sources = [Transcript.from_text(long_text(n)) for n in (1, 30, 7)]
    together = list(pipe.pipe(sources, batch_size=3))
    assert [t.text for t in together] == [pipe(t).text for t in sources]
    assert together[1].text.split()[-1].endswith(",")


# ---------------------------------------------------------------- model doubles


class WindowDouble:
    """Stands in for the network: the label of each token comes from ``rule(tokens, j, m)``
    (content tokens of the window, index within them, their count); records every window."""

    def __init__(self, stage: PunctuationStage, rule: Callable[[list[int], int, int], int]) -> None:
        self.num_labels = stage.classifier.num_labels
        self.prefix = len(stage.classifier.prefix)
        self.specials = stage.classifier.specials
        self.rule = rule
        self.windows: list[list[int]] = []

    def __call__(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        logits = torch.zeros((*input_ids.shape, self.num_labels))
        for row in range(input_ids.shape[0]):
            length = int(attention_mask[row].sum()) - self.specials
            tokens = input_ids[row, self.prefix : self.prefix + length].tolist()
            self.windows.append(tokens)
            for j in range(length):
                logits[row, self.prefix + j, self.rule(tokens, j, length)] = 5.0
        return SimpleNamespace(logits=logits)


def test_each_word_is_read_from_the_window_where_it_has_most_context(plain_comma: Path) -> None:
    """The double says ',' only for tokens at least ``margin`` from both window edges, '.'
    elsewhere. With the right stitching only words at the very start and end of the text (near
    an edge in every window) get '.'."""
    window, overlap, margin = 32, 12, 5
    stage = PunctuationStage(model=str(plain_comma), window=window, overlap=overlap, batch_size=4)
    comma, period = PLAIN.index(","), PLAIN.index(".")
    stage.classifier.network = WindowDouble(
        stage, lambda tokens, j, m: comma if min(j, m - 1 - j) >= margin else period
    )
    words = long_text(120).split()
    encoded = stage.classifier.encode([[model_input(w) for w in words]])[0]
    n = len(encoded.ids)
    assert n > 4 * window
    firsts = [encoded.word_ids.index(i) for i in range(len(words))]
    expected = ["." if p < margin or p > n - 1 - margin else "," for p in firsts]
    out = stage(Transcript.from_text(" ".join(words)))
    assert [w[-1] for w in out.text.split()] == expected
    assert expected.count(",") > len(words) - 6


def test_windows_of_many_texts_come_back_to_their_words(plain_comma: Path) -> None:
    """Windows of several transcripts are batched by length; each label must return to its word.
    The double's label depends on the token alone (odd id: '?', even: ',')."""
    stage = PunctuationStage(model=str(plain_comma), window=16, overlap=4, batch_size=2)
    comma, question = PLAIN.index(","), PLAIN.index("?")
    stage.classifier.network = WindowDouble(stage, lambda t, j, m: question if t[j] % 2 else comma)
    texts = [long_text(n).split()[n // 3 :] for n in (3, 40, 11, 1, 25)]
    out = list(stage.pipe(Transcript.from_text(" ".join(words)) for words in texts))
    for words, result in zip(texts, out, strict=True):
        firsts = [e.ids[0] for e in stage.classifier.encode([[w] for w in words])]
        assert result.text.split() == [
            w + ("?" if first % 2 else ",") for w, first in zip(words, firsts, strict=True)
        ]


def test_words_take_the_label_of_their_first_sub_token(plain_comma: Path) -> None:
    stage = PunctuationStage(model=str(plain_comma))
    pieces = stage.classifier.tokenizer.convert_ids_to_tokens
    comma, question = PLAIN.index(","), PLAIN.index("?")
    stage.classifier.network = WindowDouble(
        stage, lambda t, j, m: question if pieces(t[j]).startswith("##") else comma
    )
    text = "подтверждённый заказ отправят клиенту"
    assert any(len(stage.classifier.encode([[w]])[0].ids) > 1 for w in text.split())
    assert stage(Transcript.from_text(text)).text == "подтверждённый, заказ, отправят, клиенту,"


def timed_transcript() -> Transcript:
    texts = [["мы", "приехали", "в"], ["город", "поздно"], ["вечером"]]
    segments, t = [], 0.0
    for seg_index, words in enumerate(texts):
        timed = []
        for w in words:
            timed.append(Word(w, round(t, 2), round(t + 0.4, 2), 0.9 - 0.1 * seg_index))
            t += 0.5
        segments.append(Segment(timed[0].start, timed[-1].end, tuple(timed), speaker="A"))
        t += 1.0
    return Transcript(tuple(segments), source="call.wav", duration=t)


def test_timings_and_segments_stay_and_words_are_read_across_segments(
    upper_period: Path,
) -> None:
    stage = PunctuationStage(model=str(upper_period))
    double = WindowDouble(stage, lambda t, j, m: CASE_PUNCT.index("UPPER_PERIOD"))
    stage.classifier.network = double
    before = timed_transcript()
    after = stage(before)
    assert len(double.windows) == 1  # one window over the words of all three segments
    all_words = [model_input(w.text) for w in before.words]
    assert double.windows[0] == stage.classifier.encode([all_words])[0].ids
    assert [s.text for s in after.segments] == ["Мы. Приехали. В.", "Город. Поздно.", "Вечером."]
    for old, new in zip(before.segments, after.segments, strict=True):
        assert (old.start, old.end, old.speaker) == (new.start, new.end, new.speaker)
        assert [(w.start, w.end, w.score) for w in old.words] == [
            (w.start, w.end, w.score) for w in new.words
        ]
    assert after.metadata.extra["punctuation_model"] == str(upper_period)


def test_a_change_of_speaker_starts_a_new_text(plain_comma: Path) -> None:
    stage = PunctuationStage(model=str(plain_comma))
    double = WindowDouble(stage, lambda t, j, m: PLAIN.index("."))
    stage.classifier.network = double
    segments = [
        Segment(0.0, 1.0, (Word("мы", 0.0, 0.4), Word("приехали", 0.5, 1.0)), speaker="A"),
        Segment(2.0, 3.0, (Word("в", 2.0, 2.1), Word("город", 2.2, 3.0)), speaker="A"),
        Segment(3.5, 4.0, (Word("поздно", 3.5, 4.0),), speaker="B"),
        Segment(4.5, 5.0, (Word("вечером", 4.5, 5.0),), speaker="A"),
    ]
    out = stage(Transcript(tuple(segments)))
    texts = [["мы", "приехали", "в", "город"], ["поздно"], ["вечером"]]
    assert sorted(double.windows) == sorted(e.ids for e in stage.classifier.encode(texts))
    assert out.text == "мы. приехали. в. город. поздно. вечером."


def test_empty_transcripts_pass_through(plain_comma: Path) -> None:
    stage = PunctuationStage(model=str(plain_comma))
    empty = [Transcript(), Transcript((Segment(0.0, 1.0),)), Transcript.from_text("— …")]
    out = list(stage.pipe(empty))
    assert [t.segments for t in out] == [t.segments for t in empty]


def test_hyphen_joins_words_within_a_segment(rupunct: Path) -> None:
    stage = PunctuationStage(model=str(rupunct))
    tokenizer = stage.classifier.tokenizer
    kto = tokenizer("кто", add_special_tokens=False)["input_ids"][0]
    hyphen, nothing = RUPUNCT.index("LOWER_DEFIS"), RUPUNCT.index("LOWER_O")
    stage.classifier.network = WindowDouble(
        stage, lambda t, j, m: hyphen if t[j] == kto else nothing
    )
    words = [Word("кто", 0.0, 0.2), Word("то", 0.3, 0.5), Word("пришёл", 0.6, 1.0)]
    tail = [Word("кто", 2.0, 2.2)]
    head = [Word("то", 3.0, 3.2)]
    source = Transcript(
        (
            Segment(0.0, 1.0, tuple(words)),
            Segment(2.0, 2.2, tuple(tail)),
            Segment(3, 3.2, tuple(head)),
        )
    )
    out = stage(source)
    first = out.segments[0].words
    assert [w.text for w in first] == ["кто-то", "пришёл"]
    assert (first[0].start, first[0].end) == (0.0, 0.5)
    # a hyphen at the end of a segment stays on its word: segments are never merged
    assert [s.text for s in out.segments[1:]] == ["кто-", "то"]


# ---------------------------------------------------------------- errors and imports


def test_missing_model_is_a_model_error_with_the_fix(tmp_path: Path) -> None:
    """Offline (conftest), a hub id that is not cached and a folder without a model fail with
    one line saying how to fix it."""
    (tmp_path / "empty").mkdir()
    for model in ("nobody-here/no-such-punctuation-model", str(tmp_path / "empty")):
        with pytest.raises(ModelError) as info:
            PunctuationStage(model=model)
        message = str(info.value)
        assert "\n" not in message
        assert model in message
        assert "--set stages.punctuation.model=FOLDER" in message


def test_a_folder_that_does_not_exist_is_named(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"no folder '.*absent'"):
        PunctuationStage(model=str(tmp_path / "absent"))


def test_bad_options_are_config_errors(plain_comma: Path) -> None:
    with pytest.raises(ConfigError, match="stages.punctuation.overlap"):
        PunctuationStage(model=str(plain_comma), window=16, overlap=14)
    with pytest.raises(ConfigError, match="stages.punctuation.device"):
        PunctuationStage(model=str(plain_comma), device="tpu:7")
    with pytest.raises(ConfigError, match="stages.punctuation.batch_size"):
        PunctuationStage(model=str(plain_comma), batch_size=0)


def test_window_is_lowered_to_the_model_limit(tmp_path: Path) -> None:
    folder = save_classifier(tmp_path, dict(enumerate(PLAIN)), 2, max_positions=40)
    stage = PunctuationStage(model=str(folder), window=512, overlap=8)
    assert stage.window == 40
    text = long_text(80)
    assert stage(Transcript.from_text(text)).text.split() == [w + "," for w in text.split()]


def test_missing_transformers_is_a_missing_dependency_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "transformers", None)
    monkeypatch.delitem(sys.modules, "postprocess.punctuation.model", raising=False)
    with pytest.raises(MissingDependencyError, match=r"asr-pipeline\[punctuation\]"):
        PunctuationStage(model="unused")


def test_importing_the_stage_does_not_import_torch() -> None:
    code = (
        "import sys, postprocess.punctuation\n"
        "from asr_pipeline.config import resolve_config\n"
        "resolve_config({'pipeline': ['punctuation']})\n"
        "assert 'torch' not in sys.modules and 'transformers' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------- the command line


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [("plain_comma", lambda w: w + ","), ("upper_period", lambda w: w[0].upper() + w[1:] + ".")],
    ids=["plain", "case_punct"],
)
def test_postprocess_command(
    fixture: str,
    expected: Callable[[str], str],
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    """``asr-pipeline postprocess --stage punctuation --set stages.punctuation.model=FOLDER``
    over lines longer than three windows: every word, word for word; one line out per line in."""
    cli = pytest.importorskip("asr_pipeline.cli")
    from transformers import AutoTokenizer
    from typer.testing import CliRunner

    folder = request.getfixturevalue(fixture)
    lines = [long_text(500), "", long_text(9)]
    tokens = AutoTokenizer.from_pretrained(folder)(lines[0].split(), is_split_into_words=True)
    assert len(tokens["input_ids"]) > 3 * options_of(PunctuationStage)["window"].default
    source = tmp_path / "in.txt"
    source.write_text("\n".join(lines) + "\n", encoding="utf-8")
    args = ["postprocess", "--stage", "punctuation", "--set",
            f"stages.punctuation.model={folder}", str(source)]  # fmt: skip
    result = CliRunner().invoke(cli.app, args)
    assert result.exit_code == 0, result.output
    out = result.stdout.splitlines()
    assert out == [" ".join(expected(w) for w in line.split()) for line in lines]
