"""The spaCy plugin: asr-pipeline stages as spaCy components, transcripts as timed Docs."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from dataclasses import replace
from importlib.metadata import entry_points
from pathlib import Path

import pytest

spacy = pytest.importorskip("spacy")
asr_spacy = pytest.importorskip("asr_pipeline_spacy")

from asr_pipeline_spacy import (  # noqa: E402
    register_factory,
    span_time,
    to_doc,
    to_transcript,
)
from asr_pipeline_spacy.components import punctuation_factory  # noqa: E402
from spacy.language import Language  # noqa: E402
from spacy.matcher import Matcher  # noqa: E402

from asr_pipeline import ConfigError, Segment, StageError, Transcript, Word  # noqa: E402
from asr_pipeline.config import options_of  # noqa: E402
from asr_pipeline.registry import stages as stage_registry  # noqa: E402

DOCS = Path(__file__).resolve().parents[1] / "docs" / "spacy.md"


class MergeForty:
    """Merge the words "сорок два" into "42" (a test stage with a batched pipe).

    Options:
        suffix: text appended to the merged word.
        limit: an integer option, to check validation.
    """

    batches: list[int] = []

    def __init__(self, *, suffix: str = "", limit: int = 3) -> None:
        self.suffix = suffix

    def __call__(self, transcript: Transcript) -> Transcript:
        def merge(segment: Segment) -> Segment:
            words, out, i = segment.words, [], 0
            while i < len(words):
                if [w.text for w in words[i : i + 2]] == ["сорок", "два"]:
                    out.append(Word.merge(words[i : i + 2], "42" + self.suffix))
                    i += 2
                else:
                    out.append(words[i])
                    i += 1
            return replace(segment, words=tuple(out))

        return transcript.map_segments(merge)

    def pipe(self, transcripts: list[Transcript]) -> list[Transcript]:
        MergeForty.batches.append(len(transcripts))
        return [self(t) for t in transcripts]


register_factory("asr_test_merge", "spacy_test_merge")


@pytest.fixture
def merge_stage():
    stage_registry.register("spacy_test_merge", MergeForty)
    MergeForty.batches.clear()
    yield MergeForty
    stage_registry.unregister("spacy_test_merge")


@pytest.fixture
def nlp():
    return spacy.blank("ru")


def timed_transcript() -> Transcript:
    """Two speakers, times, scores and punctuation attached to words."""
    first = (
        Word("Ему", 0.0, 0.3, 0.9),
        Word("было", 0.3, 0.6, 0.8),
        Word("сорок", 0.6, 1.0, 0.7),
        Word("два", 1.0, 1.4, 0.6),
        Word("года.", 1.4, 1.9, 0.95),
        Word("Он", 2.0, 2.2),
        Word("жил", 2.2, 2.5, 0.5),
        Word("в", 2.5, 2.6, 0.9),
        Word("Москве,", 2.6, 3.1, 0.85),
        Word("правда?", 3.2, 3.6, 0.8),
    )
    second = (Word("Да", 4.0, 4.2, 0.99), Word("конечно", 4.2, 4.8, 0.9))
    return Transcript(
        segments=(
            Segment(0.0, 3.6, first, speaker="Анна"),
            Segment(4.0, 4.8, second, speaker="Борис"),
        ),
        source="interview.wav",
    )


def assert_tokens_consistent(nlp, doc) -> None:
    """The Doc's tokens are what the pipeline's tokenizer makes of its text."""
    fresh = nlp.make_doc(doc.text)
    assert [(t.text, t.idx, t.whitespace_) for t in doc] == [
        (t.text, t.idx, t.whitespace_) for t in fresh
    ]


# ---------------------------------------------------------------- registration


def test_factories_are_declared_as_spacy_entry_points():
    names = {ep.name: ep.value for ep in entry_points(group="spacy_factories")}
    for name in ("asr_numbers", "asr_casing", "asr_punctuation"):
        assert name in names
        assert names[name].startswith("asr_pipeline_spacy.components:")
        assert Language.has_factory(name)


def test_building_a_language_imports_no_stage():
    code = (
        "import sys, spacy; spacy.blank('ru'); "
        "from spacy.language import Language; assert Language.has_factory('asr_numbers'); "
        "print(sorted(m for m in sys.modules if m.startswith('postprocess')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"


@pytest.mark.parametrize(
    ("component", "stage"),
    [("asr_numbers", "numbers"), ("asr_casing", "casing"), ("asr_punctuation", "punctuation")],
)
def test_factory_signature_mirrors_the_stage_options(component, stage):
    factory = Language.get_factory_meta(component)
    assert factory.retokenizes
    from spacy.util import registry

    params = inspect.signature(registry.factories.get(component)).parameters
    options = options_of(stage_registry.get(stage))
    assert list(params)[:2] == ["nlp", "name"]
    assert list(params)[2:] == list(options)
    for name, option in options.items():
        expected = list(option.default) if isinstance(option.default, tuple) else option.default
        assert params[name].default == expected


# ---------------------------------------------------------------- components, with a test stage


def test_component_rewrites_text_with_consistent_offsets(nlp, merge_stage):
    nlp.add_pipe("asr_test_merge", config={"suffix": "!"})
    doc = nlp("ему было сорок два года")
    assert doc.text == "ему было 42! года"
    assert [t.text for t in doc] == ["ему", "было", "42", "!", "года"]
    assert_tokens_consistent(nlp, doc)
    assert all(t._.start is None and t._.end is None for t in doc)
    assert [t.is_sent_start for t in doc] == [True, False, False, False, True]


def test_component_keeps_times_speakers_and_scores(nlp, merge_stage):
    nlp.add_pipe("asr_test_merge")
    doc = nlp(to_doc(timed_transcript(), spacy.blank("ru")))
    merged = [t for t in doc if t.text == "42"]
    assert len(merged) == 1
    token = merged[0]
    assert (token._.start, token._.end, token._.score, token._.speaker) == (0.6, 1.4, 0.6, "Анна")
    by_text = {t.text: t for t in doc}
    assert (by_text["конечно"]._.start, by_text["конечно"]._.speaker) == (4.2, "Борис")
    assert (by_text["Москве"]._.start, by_text[","]._.end) == (2.6, 3.1)
    assert_tokens_consistent(nlp, doc)


def test_component_options_are_validated(nlp, merge_stage):
    with pytest.raises(ConfigError, match=r"components\.asr_test_merge\.limit"):
        nlp.add_pipe("asr_test_merge", config={"limit": "many"})
    with pytest.raises(Exception, match="unknown_option"):
        nlp.add_pipe("asr_test_merge", name="other", config={"unknown_option": 1})
    component = nlp.add_pipe("asr_test_merge", name="third", config={"limit": 4.0})
    assert nlp.get_pipe_config("third")["limit"] == 4.0
    assert isinstance(component.stage, MergeForty)


def test_component_pipe_batches_docs_for_a_stage_with_pipe(nlp, merge_stage):
    nlp.add_pipe("asr_test_merge")
    texts = ["сорок два", "их было сорок два", "ничего"]
    docs = list(nlp.pipe(texts, batch_size=2))
    assert [d.text for d in docs] == ["42", "их было 42", "ничего"]
    assert merge_stage.batches == [2]  # the last batch of one goes through __call__


def test_component_keeps_doc_extensions(nlp, merge_stage):
    from spacy.tokens import Doc

    if not Doc.has_extension("asr_test_label"):
        Doc.set_extension("asr_test_label", default=None)
    merge = nlp.add_pipe("asr_test_merge")
    doc = nlp.make_doc("сорок два")
    doc._.asr_test_label = "keep"
    assert merge(doc)._.asr_test_label == "keep"


def test_stage_failure_names_the_component(nlp):
    class Broken:
        """Fail on every transcript."""

        def __call__(self, transcript: Transcript) -> Transcript:
            raise RuntimeError("boom")

    stage_registry.register("spacy_test_broken", Broken)
    try:
        register_factory("asr_test_broken", "spacy_test_broken")
        nlp.add_pipe("asr_test_broken")
        with pytest.raises(StageError, match="asr_test_broken.*boom"):
            nlp("слово")
    finally:
        stage_registry.unregister("spacy_test_broken")


def test_pipeline_saves_and_loads(nlp, merge_stage, tmp_path):
    nlp.add_pipe("asr_test_merge", config={"suffix": "?"})
    nlp.to_disk(tmp_path / "pipeline")
    loaded = spacy.load(tmp_path / "pipeline")
    assert loaded.pipe_names == ["asr_test_merge"]
    assert loaded("сорок два").text == "42?"


# ---------------------------------------------------------------- the real stages


NUMBERS_CASING_CONFIG = """
[nlp]
lang = "ru"
pipeline = ["asr_numbers", "asr_casing"]

[components]

[components.asr_numbers]
factory = "asr_numbers"
style = "digits"

[components.asr_casing]
factory = "asr_casing"
names = false
"""


def test_numbers_component_on_blank_russian(nlp):
    nlp.add_pipe("asr_numbers")
    doc = nlp("ему было сорок два года")
    assert doc.text == "ему было 42 года"
    assert_tokens_consistent(nlp, doc)
    assert (
        nlp.get_pipe_config("asr_numbers")["style"]
        == options_of(stage_registry.get("numbers"))["style"].default
    )


def test_numbers_component_merges_timed_words(nlp):
    nlp.add_pipe("asr_numbers")
    doc = nlp(to_doc(timed_transcript(), spacy.blank("ru")))
    assert doc.text.startswith("Ему было 42 года.")
    token = doc[2]
    assert token.text == "42"
    assert (token._.start, token._.end, token._.score, token._.speaker) == (0.6, 1.4, 0.6, "Анна")
    assert [s.text for s in doc.sents][0] == "Ему было 42 года."


def test_numbers_style_option_is_forwarded():
    editorial = spacy.blank("ru")
    editorial.add_pipe("asr_numbers", config={"style": "editorial"})
    digits = spacy.blank("ru")
    digits.add_pipe("asr_numbers", config={"style": "digits"})
    text = "пришли два человека"
    assert editorial(text).text == "пришли два человека"
    assert digits(text).text == "пришли 2 человека"
    with pytest.raises(ConfigError, match="style"):
        spacy.blank("ru").add_pipe("asr_numbers", config={"style": "roman"})


def test_casing_component_and_vocabulary(nlp, tmp_path):
    vocabulary = tmp_path / "vocabulary.txt"
    vocabulary.write_text("iPhone\n", encoding="utf-8")
    nlp.add_pipe("asr_casing", config={"vocabulary": str(vocabulary)})
    doc = nlp("вчера в москве купили iphone. он работает")
    assert doc.text == "Вчера в Москве купили iPhone. Он работает"
    assert [s.text for s in doc.sents] == ["Вчера в Москве купили iPhone.", "Он работает"]
    assert_tokens_consistent(nlp, doc)
    with pytest.raises(ConfigError, match="min_score"):
        spacy.blank("ru").add_pipe("asr_casing", config={"min_score": 2})


def test_factories_from_a_config_cfg():
    from spacy.util import load_config_from_str, load_model_from_config

    config = load_config_from_str(NUMBERS_CASING_CONFIG)
    nlp = load_model_from_config(config, auto_fill=True)
    assert nlp.pipe_names == ["asr_numbers", "asr_casing"]
    assert nlp.get_pipe_config("asr_casing")["names"] is False
    assert (
        nlp.get_pipe_config("asr_casing")["min_score"]
        == options_of(stage_registry.get("casing"))["min_score"].default
    )
    doc = nlp("пришли два человека. в москве")
    assert doc.text == "Пришли 2 человека. В москве"


# ---------------------------------------------------------------- punctuation (no model here)


class RecordingPunctuation:
    """Stands in for the punctuation stage: records its options, ends the text with a period."""

    seen: dict = {}

    def __init__(self, **options) -> None:
        RecordingPunctuation.seen = options

    def __call__(self, transcript: Transcript) -> Transcript:
        texts = [w.text for w in transcript.words]
        texts[-1] += "."
        return transcript.with_texts(texts)


def test_punctuation_factory_validates_and_forwards_options(nlp, monkeypatch):
    punctuation = pytest.importorskip("postprocess.punctuation")
    real = punctuation.PunctuationStage
    with pytest.raises(ConfigError, match="overlap"):
        spacy.blank("ru").add_pipe("asr_punctuation", config={"overlap": -1})
    with pytest.raises(ConfigError, match=r"components\.asr_punctuation\.window"):
        spacy.blank("ru").add_pipe("asr_punctuation", config={"window": "wide"})

    recorder = RecordingPunctuation
    monkeypatch.setattr(recorder, "__signature__", inspect.signature(real), raising=False)
    monkeypatch.setattr(punctuation, "PunctuationStage", recorder)
    nlp.add_pipe("asr_punctuation", config={"device": "cpu", "labels": ["O", "PERIOD"]})
    expected = {name: option.default for name, option in options_of(real).items()}
    expected.update(device="cpu", labels=["O", "PERIOD"])
    assert RecordingPunctuation.seen == expected
    assert nlp("привет мир").text == "привет мир."
    assert str(punctuation_factory) == "StageFactory('asr_punctuation', stage='punctuation')"


# ---------------------------------------------------------------- to_doc


def test_to_doc_round_trip_of_times_and_speakers(nlp):
    transcript = timed_transcript()
    doc = to_doc(transcript, nlp)
    assert doc.text == transcript.text
    assert [t.text for t in doc][:6] == ["Ему", "было", "сорок", "два", "года", "."]
    period = doc[5]
    assert (period._.start, period._.end, period._.speaker) == (1.4, 1.9, "Анна")
    back = to_transcript(doc)
    assert back.words == transcript.words
    assert [(s.speaker, s.start, s.end) for s in back.segments] == [
        ("Анна", 0.0, 3.6),
        ("Борис", 4.0, 4.8),
    ]


def test_to_transcript_of_plain_text_groups_tokens_into_words(nlp):
    transcript = to_transcript(nlp.make_doc("привет,  мир!\nпока"))
    assert [w.text for w in transcript.words] == ["привет,", "мир!", "пока"]
    assert {(w.start, w.end, w.score) for w in transcript.words} == {(0.0, 0.0, None)}
    assert [s.speaker for s in transcript.segments] == [None]


def test_matcher_hit_maps_back_to_its_time(nlp):
    doc = to_doc(timed_transcript(), nlp)
    matcher = Matcher(nlp.vocab)
    matcher.add("AGE", [[{"LOWER": "сорок"}, {"LOWER": "два"}, {"LOWER": "года"}]])
    matcher.add("CITY", [[{"LOWER": "москве"}]])
    hits = {nlp.vocab.strings[m]: doc[s:e] for m, s, e in matcher(doc)}
    assert span_time(hits["AGE"]) == (0.6, 1.9)
    assert span_time(hits["CITY"]) == (2.6, 3.1)
    assert {t._.speaker for t in hits["CITY"]} == {"Анна"}


def test_sentence_boundaries_follow_punctuation_and_speakers(nlp):
    doc = to_doc(timed_transcript(), nlp)
    sentences = list(doc.sents)
    assert [s.text for s in sentences] == [
        "Ему было сорок два года.",
        "Он жил в Москве, правда?",
        "Да конечно",
    ]
    assert [span_time(s) for s in sentences] == [(0.0, 1.9), (2.0, 3.6), (4.0, 4.8)]


def test_a_new_speaker_starts_a_sentence(nlp):
    anna = Segment(0.0, 1.0, (Word("ну", 0.0, 0.5), Word("вот", 0.5, 1.0)), speaker="Анна")
    boris = Segment(1.0, 2.0, (Word("да", 1.0, 2.0),), speaker="Борис")
    doc = to_doc(Transcript(segments=(anna, replace(anna, start=2.0, end=3.0), boris)), nlp)
    assert [(s.text, s[0]._.speaker) for s in doc.sents] == [
        ("ну вот ну вот", "Анна"),
        ("да", "Борис"),
    ]


def test_sentence_end_keeps_closing_quotes(nlp):
    words = tuple(Word(text, i, i + 1) for i, text in enumerate("Он сказал: «Иди!» Потом".split()))
    doc = to_doc(Transcript(segments=(Segment(0.0, 5.0, words),)), nlp)
    assert [s.text for s in doc.sents] == ["Он сказал: «Иди!»", "Потом"]


def test_entities_and_displacy_on_a_transcript(nlp):
    from spacy import displacy

    ruler = nlp.add_pipe("entity_ruler")
    ruler.add_patterns([{"label": "LOC", "pattern": [{"LOWER": "москве"}]}])
    doc = to_doc(timed_transcript(), nlp)
    assert [(e.text, e.label_, span_time(e)) for e in doc.ents] == [("Москве", "LOC", (2.6, 3.1))]
    assert "Москве" in displacy.render(doc, style="ent", jupyter=False)


def test_to_doc_without_processing_and_empty_transcripts(nlp):
    nlp.add_pipe("entity_ruler").add_patterns([{"label": "LOC", "pattern": "Москве"}])
    assert to_doc(timed_transcript(), nlp, process=False).ents == ()
    empty = to_doc(Transcript(), nlp)
    assert len(empty) == 0 and span_time(empty) == (None, None)


# ---------------------------------------------------------------- docs


def test_docs_example_runs():
    text = DOCS.read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks
    namespace: dict = {}
    exec(compile("\n".join(blocks), str(DOCS), "exec"), namespace)  # noqa: S102
