"""The input formats the pipelines read (no heavy imports: the command line lists them)."""

EVENT_FORMATS = ("csv", "jsonl", "parquet", "movielens", "sasrec", "sequence-lines")
TEXT_FORMATS = ("csv", "jsonl")
