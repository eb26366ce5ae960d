import pandas as pd
import pytest

from models.serving.held_out import held_out_histories, held_out_texts
from tests.recommender_fixtures import write_events_run


def test_held_out_histories_are_test_histories(tmp_path):
    sequences = [["a", "b", "c", "d"], ["b", "c", "d"], ["a", "b"]]
    run = write_events_run(tmp_path / "run", sequences)
    histories = held_out_histories(run, num_users=10)
    assert sorted(histories) == [["a", "b", "c"], ["b", "c"]]  # the 2-item user has no test target
    assert len(held_out_histories(run, num_users=1)) == 1
    with pytest.raises(FileNotFoundError, match="Received: data="):
        held_out_histories(tmp_path / "missing")


def test_held_out_texts_from_a_run_or_a_file(tmp_path):
    (tmp_path / "run" / "texts").mkdir(parents=True)
    pd.DataFrame({"text": ["x", None, "y"]}).to_parquet(tmp_path / "run" / "texts" / "part.parquet")
    assert held_out_texts(tmp_path / "run") == ["x", "y"]
    pd.DataFrame({"body": ["x"]}).to_csv(tmp_path / "texts.csv", index=False)
    with pytest.raises(ValueError, match="Received: columns="):
        held_out_texts(tmp_path / "texts.csv")
