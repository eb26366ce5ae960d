import numpy as np
import pytest

from dashboard.explanations import explain, head_average, reasons_per_item, strongest_items


def test_head_average_of_heads():
    attention = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5]])
    np.testing.assert_allclose(head_average(attention), [0.5, 0.5])


def test_head_average_rejects_three_dimensions():
    with pytest.raises(ValueError, match="Received: attention.shape"):
        head_average(np.zeros((1, 2, 3)))


def test_strongest_items_orders_by_weight_and_names_each_item_once():
    attention = np.array([[0.1, 0.5, 0.05, 0.3], [0.1, 0.3, 0.05, 0.5]])
    items = strongest_items(attention, ["a", "b", "c", "b"], top_n=2, titles={"b": "Bee"})
    # positions 1 and 3 tie at 0.4: the more recent (3) wins, and "b" is not repeated
    assert [(item.position, item.item_id) for item in items] == [(3, "b"), (0, "a")]
    assert items[0].label == "Bee (b)"


def test_strongest_items_validates_lengths_and_top_n():
    with pytest.raises(ValueError, match="Received: attention length=2, history length=3"):
        strongest_items(np.ones((1, 2)), ["a", "b", "c"])
    with pytest.raises(ValueError, match="Received: top_n=0"):
        strongest_items(np.ones((1, 2)), ["a", "b"], top_n=0)


def test_explain_names_the_most_attended_items_with_shares():
    attention = np.array([[0.7, 0.2, 0.1]])
    sentence = explain(attention, ["x", "y", "z"], top_n=2)
    assert sentence.startswith("Because you interacted with x (70% of the attention) and y (20%")
    assert "z" not in sentence


def test_explain_empty_history():
    assert "No history" in explain(np.zeros((2, 0)), [])


def test_each_recommended_item_gets_the_reason_of_its_own_attention_row():
    attention = np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1], [0.0, 0.0, 0.0]])
    reasons = reasons_per_item(attention, ["a", "b", "c"], titles={"a": "Tent"})
    assert reasons[0] == "c (70%)"
    assert reasons[1] == "Tent (a) (60%)"
    assert reasons[2] == "c (0%)"  # no attention at all: the most recent item, 0%
    assert reasons_per_item(np.zeros((2, 0)), []) == ["", ""]
    with pytest.raises(ValueError, match=r"Received: attention.shape=\(3, 3\), len\(history\)=2"):
        reasons_per_item(attention, ["a", "b"])
