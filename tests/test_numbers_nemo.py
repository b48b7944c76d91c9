"""The ``digits`` style over NeMo's public Russian ITN cases (a copy in tests/data/itn_ru_nemo).

NeMo writes its own conventions (``12.12.2006``, ``1 руб.``, ``12 кг``) that are not ours, so two
figures are kept per file: exact matches and value matches (same numbers, conventions set aside).
The floors below are the levels reached; a drop is a regression.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from postprocess import normalize_numbers
from postprocess.numbers.evaluate import numeric_values, read_cases, score_cases

SUITE = Path(__file__).parent / "data" / "itn_ru_nemo"

# file: (cases, exact floor, value-match floor)
FLOORS = {
    "cardinal": (30, 28, 28),
    "date": (15, 0, 14),
    "decimal": (16, 16, 16),
    "electronic": (4, 0, 2),
    "measure": (16, 4, 16),
    "money": (9, 0, 9),
    "ordinal": (15, 0, 14),
    "ordinal_hard": (57, 53, 57),
    "telephone": (1, 0, 1),
    "time": (9, 0, 4),
    "whitelist": (4, 2, 3),
    "word": (50, 48, 49),
}


def _digits(text: str) -> str:
    return normalize_numbers(text, style="digits")


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_nemo_suite_floor(name: str) -> None:
    cases = read_cases(SUITE / f"test_cases_{name}.txt")
    total, exact_floor, value_floor = FLOORS[name]
    score = score_cases(cases, _digits)
    for spoken, want, got in score.failures:
        print(f"{spoken!r}: want {want!r}, got {got!r}")
    print(f"{name}: {score.exact}/{score.total} exact, {score.values}/{score.total} values")
    assert score.total == total
    assert score.exact >= exact_floor
    assert score.values >= value_floor


def test_ordinal_hard_mostly_passes() -> None:
    score = score_cases(read_cases(SUITE / "test_cases_ordinal_hard.txt"), _digits)
    assert score.exact / score.total >= 0.9


def test_suite_files_are_read_as_nemo_reads_them() -> None:
    cases = read_cases(SUITE / "test_cases_word.txt")
    assert (cases[0].spoken, cases[0].written) == ("", "")
    assert any(c.spoken == "x " and c.written == "x" for c in cases)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("12.12.2006", "12 декабря 2006"),
        ("13:05", "13 часов 5 минут"),
        ("3,2 млн л", "3200000 литров"),
        ("2,5 тыс руб.", "2,5 тысячи рублей"),
        ("в XVII веке", "в 17 веке"),
        ("8-913-983-56-01", "8 913 983-56-01"),
        ("-25037", "-25 037"),
    ],
)
def test_value_match_sets_conventions_aside(a: str, b: str) -> None:
    assert numeric_values(a) == numeric_values(b)


@pytest.mark.parametrize(("a", "b"), [("12 мая", "12.06"), ("1,5", "15"), ("2:03", "2:30")])
def test_value_match_still_tells_numbers_apart(a: str, b: str) -> None:
    assert numeric_values(a) != numeric_values(b)
