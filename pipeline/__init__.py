"""Apache Beam pipelines: raw logs -> clean, ordered sequences and texts.

Import submodules explicitly; this package's `__init__` stays free of Beam so that
`pipeline.text_normalization` can be used by the models on machines without Beam. It only
silences two irrelevant messages Beam logs on import (`pipeline.beam_logging`).
"""

from pipeline.beam_logging import quiet_beam_import_messages

quiet_beam_import_messages()
