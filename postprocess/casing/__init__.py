"""Casing restoration for Russian transcripts: sentence starts, names, places, acronyms.

>>> from postprocess.casing import CasingStage
>>> CasingStage().restore("вчера в москве выступил глава мвд. он приехал из сша.")
'Вчера в Москве выступил глава МВД. Он приехал из США.'
"""

from .stage import CasingStage

__all__ = ["CasingStage"]
