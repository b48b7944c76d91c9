"""Sliding windows over a token sequence, and which window each word's label comes from."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["first_tokens", "pick_windows", "plan_windows"]

Window = tuple[int, int]
"""A half-open span ``[start, end)`` of token positions."""


def plan_windows(n_tokens: int, size: int, overlap: int) -> list[Window]:
    """Windows of at most ``size`` tokens covering ``n_tokens``, neighbours sharing ``overlap``.

    Nothing is truncated: the windows cover every position. The last window is moved back to end
    at the last token, so it is as full as the others (its overlap may then be larger).

    >>> plan_windows(10, 4, 1)
    [(0, 4), (3, 7), (6, 10)]
    """
    if size < 1 or not 0 <= overlap < size:
        raise ValueError(f"need size >= 1 and 0 <= overlap < size, got {size}, {overlap}")
    if n_tokens <= 0:
        return []
    windows = [(0, min(size, n_tokens))]
    step = size - overlap
    while windows[-1][1] < n_tokens:
        start = min(windows[-1][0] + step, n_tokens - size)
        windows.append((start, start + size))
    return windows


def first_tokens(word_ids: Sequence[int | None], n_words: int) -> list[int | None]:
    """The position of each word's first sub-token (None for a word with no tokens)."""
    first: list[int | None] = [None] * n_words
    for position, word in enumerate(word_ids):
        if word is not None and first[word] is None:
            first[word] = position
    return first


def pick_windows(
    positions: Sequence[int | None], windows: Sequence[Window]
) -> list[tuple[int, int] | None]:
    """For each token position (in increasing order): ``(window index, offset in it)``.

    Where windows overlap, the position is read from the window where it lies farthest from
    either edge (the most context on both sides); ties go to the earlier window.
    """
    picks: list[tuple[int, int] | None] = []
    first_candidate = 0
    for position in positions:
        if position is None:
            picks.append(None)
            continue
        best: tuple[int, int] | None = None
        best_margin = -1
        for index in range(first_candidate, len(windows)):
            start, end = windows[index]
            if start > position:
                break
            if position >= end:
                first_candidate = index + 1  # positions only grow: never needed again
                continue
            margin = min(position - start, end - 1 - position)
            if margin > best_margin:
                best, best_margin = (index, position - start), margin
        picks.append(best)
    return picks
