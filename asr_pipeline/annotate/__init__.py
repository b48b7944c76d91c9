"""Speech datasets from recordings: clips with draft labels, exports, and corrections back in.

>>> from asr_pipeline import Pipeline
>>> from asr_pipeline.annotate import Dataset
>>> pipeline = Pipeline.default()                                   # doctest: +SKIP
>>> dataset = Dataset("corpus", min_confidence=0.6)                 # doctest: +SKIP
>>> record = dataset.add(pipeline("talk.wav"))                      # doctest: +SKIP
>>> dataset.export(["nemo", "hf", "labelstudio"])                   # doctest: +SKIP

:func:`import_annotations` turns a Label Studio export, once corrected, into a manifest that
``asr-pipeline eval`` reads. ``asr-pipeline annotate`` and ``import-annotations`` are the
command-line faces of these.
"""

from .clips import Clip, Cutting, cut_clips
from .dataset import DATASET_FORMATS, AddToDataset, Dataset, SourceRecord
from .labelstudio import LABELING_CONFIG, AnnotationError, Imported, import_annotations, read_export

__all__ = [
    "AddToDataset",
    "DATASET_FORMATS",
    "LABELING_CONFIG",
    "AnnotationError",
    "Clip",
    "Cutting",
    "Dataset",
    "Imported",
    "SourceRecord",
    "cut_clips",
    "import_annotations",
    "read_export",
]
