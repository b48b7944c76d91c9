"""Failing fast, with one line, when a model can be neither found nor downloaded."""

import pytest

from asr_pipeline.errors import ModelError
from asr_pipeline.hub import ensure_reachable, hub_reachable


def test_a_local_folder_needs_no_hub(tmp_path):
    ensure_reachable(str(tmp_path))


def test_a_missing_folder_says_so(tmp_path):
    with pytest.raises(ModelError, match="no model folder at ./no-such-model"):
        ensure_reachable("./no-such-model")


def test_offline_mode_names_the_fix():
    with pytest.raises(ModelError) as caught:
        ensure_reachable("someone/not-cached-model")
    message = str(caught.value)
    assert "HF_HUB_OFFLINE is set" in message
    assert "asr-pipeline models download someone/not-cached-model" in message
    assert "--model" in message and "\n" not in message


def test_an_unreachable_hub_is_detected_quickly(monkeypatch):
    monkeypatch.setattr("asr_pipeline.hub.offline_mode", lambda: False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # discard port: nothing listens
    assert hub_reachable(timeout=1.0) is False
    with pytest.raises(ModelError, match="the Hugging Face hub cannot be reached"):
        ensure_reachable("someone/not-cached-model", option="--set stages.punctuation.model=DIR")
