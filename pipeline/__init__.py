"""Apache Beam pipelines: raw logs -> clean, ordered sequences and texts.

Import submodules explicitly; this package's `__init__` stays free of Beam so that
`pipeline.text_normalization` can be used by the models on machines without Beam.
"""
