"""bench/ranker.py's section: one row per system, the gain, the blend, the verdicts (no training
here: the figures are made up, the layout and the arithmetic are what is checked)."""

from __future__ import annotations

from bench.ranker import markdown


def _metrics(full_ndcg: float) -> dict:
    return {
        "full": {"NDCG@10": full_ndcg, "HR@10": 2 * full_ndcg},
        "sampled100": {"NDCG@10": 0.4, "HR@10": 0.6},
    }


def _results() -> dict:
    ranker = {
        "training_seconds": 12.4,
        "metrics": {"retriever": _metrics(0.0400), "retriever+ranker": _metrics(0.0440)},
        "relative_gain_of_ranker": {"full/NDCG@10": 0.1},
        "candidate_recall@100": 0.25,
        "blend_fit": {"ranker_weight": 0.5, "rank_weight": 0.75},
    }
    return {
        "machine": "2-core CPU",
        "date": "2026-12-07",
        "command": "python bench/ranker.py",
        "cold_share": 0.05,
        "datasets": {
            "sports": {
                "users": 1000,
                "items": 500,
                "rankers": {"features": ranker, "ids_only": {**ranker, "blend_fit": None}},
                "target": {"measured": 0.1, "met": True},
                "cold_start": {
                    "held_out_items": 25,
                    "cold_test_targets": 40,
                    "features": {"HR@10": 0.5, "NDCG@10": 0.3, "MRR": 0.25},
                    "ids_only": {"HR@10": 0.1, "NDCG@10": 0.05, "MRR": 0.04},
                },
                "serving": {
                    "request": "history 50, k 10",
                    "p50_ms": 4.0,
                    "p99_ms": 12.0,
                    "target_p99_ms": 10.0,
                    "rows_per_second_batch_256": 2000.0,
                },
            }
        },
    }


def test_one_row_per_system_with_gain_blend_and_time():
    section = markdown(_results())
    assert "| retriever alone | 0.0400 | 0.0800 | 0.4000 | 0.6000 |" in section
    assert (
        "| retriever + ranker `features` | 0.0440 | 0.0880 | 0.4000 | 0.6000 | +10.0% | 0.2500 "
        "| 0.50, 0.75 | 12 s |"
    ) in section
    assert "| retriever + ranker `ids_only` |" in section and "| joint | 12 s |" in section


def test_verdicts_cold_start_and_serving():
    section = markdown(_results())
    assert "measured +10.0%, **met**" in section
    assert "| `features` | 0.5000 | 0.3000 | 0.2500 |" in section
    assert "25 items (5%) removed" in section and "40 test targets" in section
    assert "p99 12.00 ms (target p99 <= 10 ms: **missed**)" in section
