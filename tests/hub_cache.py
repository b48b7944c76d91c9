"""A hand-made Hugging Face hub cache: revisions laid out as huggingface_hub lays them."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["add_snapshot"]


def add_snapshot(cache: Path, repo: str, commit: str, files: dict[str, bytes], ref: str | None):
    """Lay out one revision the way huggingface_hub does: blobs, refs, snapshot symlinks."""
    root = cache / f"models--{repo.replace('/', '--')}"
    for name, content in files.items():
        blob = root / "blobs" / hashlib.sha1(commit.encode() + name.encode()).hexdigest()
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(content)
        link = root / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(os.path.relpath(blob, link.parent))
    if ref is not None:
        (root / "refs").mkdir(parents=True, exist_ok=True)
        (root / "refs" / ref).write_text(commit)
