"""bench/serving.py's report: the previous run's figures are carried beside the new ones."""

import json

from bench.serving import earlier_run_lines, previous_run_summary


def test_previous_run_summary_keeps_the_savedmodel_figures_and_the_host_state(tmp_path):
    assert previous_run_summary(tmp_path / "missing.json") is None
    path = tmp_path / "serving.json"
    latency = {
        name: {"p50_ms": p50, "p99_ms": p99}
        for name, p50, p99 in [
            ("savedmodel_signature", 3.9, 6.0),
            ("savedmodel_signature_xla", 2.6, 4.9),
            ("keras_recommend", 60.0, 107.0),
        ]
    }
    path.write_text(
        json.dumps(
            {
                "date": "2026-11-22T05:46:07Z",
                "single_request_latency": latency,
                "machine": {
                    "description": "2-core CPU",
                    "cpu_time_stolen_by_hypervisor_fraction_while_timing": 0.012,
                    "reference_python_loop_seconds_at_end": 1.1,
                },
            }
        )
    )
    summary = previous_run_summary(path)
    assert summary == {
        "date": "2026-11-22T05:46:07Z",
        "note": "2-core CPU; 1.2% of the CPU stolen while timing; reference Python loop 1.1 s",
        "p50_ms": {"savedmodel_signature": 3.9, "savedmodel_signature_xla": 2.6},
        "p99_ms": {"savedmodel_signature": 6.0, "savedmodel_signature_xla": 4.9},
    }
    (line,) = earlier_run_lines(summary)
    assert (
        "p50 3.90 / 2.60 ms and p99 6.00 / 4.90 ms (savedmodel_signature / "
        "savedmodel_signature_xla)" in line
    )
