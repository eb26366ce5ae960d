"""seqlens: attention-based recommender and sequence analytics."""

__version__ = "0.1.0"
