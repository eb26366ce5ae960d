import numpy as np
import pandas as pd
import pytest

from dashboard import charts
from dashboard.artifacts import load_alerts, load_windows
from dashboard.recommendation_views import history_timeline
from tests.dashboard_fixtures import write_data_artifacts


def test_attention_heatmap_has_a_row_per_head_and_the_average():
    attention = np.array([[0.2, 0.8], [0.6, 0.4]])
    figure = charts.attention_heatmap(attention, ["a", "<b>x</b>"])
    heatmap = figure.data[0]
    assert list(heatmap.y) == ["head 1", "head 2", "average"]
    np.testing.assert_allclose(heatmap.z[-1], [0.4, 0.6])
    assert heatmap.x[1] == "2. &lt;b&gt;x&lt;/b&gt;"


def test_attention_heatmap_validates_shape():
    with pytest.raises(
        ValueError, match="Received: attention.shape=\\(2, 2\\), len\\(history_labels\\)=3"
    ):
        charts.attention_heatmap(np.ones((2, 2)), ["a", "b", "c"])


def test_recommendation_heatmap_has_a_row_per_recommended_item():
    attention = np.array([[0.1, 0.9], [0.7, 0.3], [0.5, 0.5]])
    figure = charts.recommendation_attention_heatmap(
        attention, ["t1", "<i>t2</i>", "t3"], ["a", "b"]
    )
    heatmap = figure.data[0]
    assert list(heatmap.y) == ["1. t1", "2. &lt;i&gt;t2&lt;/i&gt;", "3. t3"]
    assert list(heatmap.x) == ["1. a", "2. b"]
    np.testing.assert_allclose(heatmap.z, attention)
    with pytest.raises(
        ValueError, match=r"Received: attention.shape=\(3, 2\), len\(item_labels\)=2"
    ):
        charts.recommendation_attention_heatmap(attention, ["t1", "t2"], ["a", "b"])


def test_sentiment_timeline_marks_alerts(tmp_path):
    root = write_data_artifacts(tmp_path)
    figure = charts.sentiment_timeline(load_windows(root), load_alerts(root), "EVIL")
    names = [trace.name for trace in figure.data]
    assert names == ["mean sentiment", "volume", "alert (critical)"]
    assert figure.data[2].y[0] == pytest.approx(-0.8)


def test_intent_distribution_and_training_curves():
    counts = pd.DataFrame(
        {"a": [1, 2], "b": [0, 1]}, index=pd.to_datetime(["2024-01-01", "2024-01-02"])
    )
    share = pd.Series([0.1, 0.2], index=counts.index)
    figure = charts.intent_distribution(counts, share)
    assert [trace.name for trace in figure.data] == ["a", "b", "out-of-scope share"]
    curves = charts.training_curves({"loss": [1.0, 0.5], "val_loss": [1.1, 0.9]}, "m")
    assert curves.data[1].line.dash == "dot"


def test_history_timeline_colours_splits():
    row = {
        "item_ids": ["1", "2", "3"],
        "timestamps": [0, 1, 2],
        "valid_position": 1,
        "test_position": 2,
    }
    figure = charts.history_timeline(history_timeline(row))
    assert [trace.name for trace in figure.data] == ["train", "validation target", "test target"]
