"""An asr-pipeline stage that removes or marks Russian hesitation sounds (э, мм, ну-у).

Installed, it registers as the stage ``fillers`` through the ``asr_pipeline.stages`` entry-point
group::

    asr-pipeline postprocess --stage fillers <<< "я э думаю что мм да"
    я думаю что да

>>> from asr_pipeline import Transcript
>>> FillersStage()(Transcript.from_text("Ну, э, давайте начнём, ммм.")).text
'Ну, давайте начнём.'
>>> FillersStage(mode="mark")(Transcript.from_text("я ээ думаю")).text
'я (ээ) думаю'
"""

from __future__ import annotations

from .stage import DEFAULT_FILLERS, FillersStage, filler_pattern

__all__ = ["DEFAULT_FILLERS", "FillersStage", "filler_pattern"]
