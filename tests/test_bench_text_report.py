"""The text benchmark's report of a later run: deltas against that run's own baseline."""

from bench.text_models import later_run_section


def test_later_run_rows_compare_with_the_same_runs_baseline_and_the_targets():
    run = {"title": "Pretraining ablation", "command": "python bench/text_models.py --tasks pretraining",
           "machine": "2-core CPU", "date": "2026-11-22", "protocol": "same split",
           "notes": ["one seed"],
           "rows": [
               {"dataset": "phrasebank_allagree", "model": "tfidf_linear_baseline", "accuracy": 0.9360,
                "macro_f1": 0.9148, "training_seconds": 20.5},
               {"dataset": "phrasebank_allagree", "model": "attention, + pretraining", "accuracy": 0.9510,
                "macro_f1": 0.9300, "training_seconds": 300.0, "pretraining_text_count": 21630},
               {"dataset": "twitter_financial_news", "model": "attention", "accuracy": 0.86,
                "macro_f1": 0.80, "training_seconds": 500.0}]}
    lines = later_run_section(run)
    assert "### Pretraining ablation" in lines
    assert "Command: `python bench/text_models.py --tasks pretraining`  " in lines
    row = next(line for line in lines if "attention, + pretraining" in line)
    assert "0.9510 (+0.0150)" in row and "0.9300 (+0.0152)" in row and "21,630" in row
    assert row.endswith("| yes |")  # AllAgree targets 0.95 / 0.93 met
    twitter = next(line for line in lines if line.startswith("| twitter_financial_news"))
    assert "| 0.8600 |" in twitter and twitter.endswith("| no |")  # no baseline in the run: no delta
    assert "- one seed" in lines
