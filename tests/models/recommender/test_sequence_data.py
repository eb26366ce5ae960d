"""Contract Parquet and SASRec text -> SequenceData; padding; re-indexing."""

import numpy as np
import pytest

from models.recommender.sequence_data import (
    OOV_INDEX,
    leave_one_out_positions,
    left_pad,
    load_sequence_data,
    read_sasrec_text,
    reindex_to_vocabulary,
)
from tests.recommender_fixtures import write_events_run


@pytest.fixture()
def events_run(tmp_path):
    sequences = [["a", "b", "c", "d"], ["b", "c"], ["c", "a", "b"]]
    return write_events_run(tmp_path / "events", sequences)


def test_load_contract_parquet(events_run):
    data = load_sequence_data(events_run)
    # vocab by count desc, then id: a 2, b 3, c 3, d 1 -> b, c, a, d
    assert data.item_ids == ["b", "c", "a", "d"]
    assert data.vocabulary_size == 6
    np.testing.assert_array_equal(data.sequences[0], [4, 2, 3, 5])
    assert data.valid_positions.tolist() == [2, -1, 1] and data.test_positions.tolist() == [
        3,
        -1,
        2,
    ]
    training = data.training_sequences()
    np.testing.assert_array_equal(training[0], [4, 2])
    np.testing.assert_array_equal(training[1], [2, 3])  # no targets: the whole sequence trains
    histories, targets, users = data.evaluation_examples("test")
    assert users.tolist() == [0, 2] and targets.tolist() == [5, 2]
    np.testing.assert_array_equal(histories[0], [4, 2, 3])
    assert data.item_counts()[2] == 2  # b (index 2) in the training parts of users 0 and 1


def test_read_sasrec_text(tmp_path):
    path = tmp_path / "Games.txt"
    path.write_text("1 10\n1 11\n1 12\n2 11\n2 10\n2 13\n2 11\n")
    data = read_sasrec_text(path)
    assert data.user_ids == ["1", "2"]
    assert data.item_ids[0] == "11"  # 3 occurrences
    assert [data.item_ids[i - 2] for i in data.sequences[1]] == ["11", "10", "13", "11"]
    assert data.valid_positions.tolist() == [1, 2]


def test_leave_one_out_positions():
    valid, test = leave_one_out_positions(np.array([1, 2, 3, 5]))
    assert valid.tolist() == [-1, -1, 1, 3] and test.tolist() == [-1, -1, 2, 4]


def test_left_pad_keeps_the_most_recent_items():
    padded = left_pad([np.array([1, 2, 3]), np.array([4, 5, 6, 7, 8]), np.array([], dtype=int)], 4)
    np.testing.assert_array_equal(padded, [[0, 1, 2, 3], [5, 6, 7, 8], [0, 0, 0, 0]])


def test_reindex_to_another_vocabulary(events_run):
    data = load_sequence_data(events_run)
    other = reindex_to_vocabulary(data, ["a", "b"])
    assert [other.item_ids[i - 2] if i > 1 else None for i in other.sequences[0]] == [
        "a",
        "b",
        None,
        None,
    ]
    assert other.sequences[0][2] == OOV_INDEX


def test_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="Received: folder="):
        load_sequence_data(tmp_path)
    with pytest.raises(FileNotFoundError, match="Received: path="):
        read_sasrec_text(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="Received: length=0"):
        left_pad([np.array([1])], 0)
    data = read_sasrec_text_fixture(tmp_path)
    with pytest.raises(ValueError, match="Received: split='train'"):
        data.evaluation_examples("train")


def read_sasrec_text_fixture(tmp_path):
    path = tmp_path / "tiny.txt"
    path.write_text("1 1\n1 2\n1 3\n")
    return read_sasrec_text(path)


def test_validation_trained_users_train_up_to_their_test_target(events_run):
    data = load_sequence_data(events_run)  # positions: valid [2, -1, 1], test [3, -1, 2]
    trained = np.array([True, False, False])
    training = data.training_sequences(trained)
    assert [s.tolist() for s in training] == [
        [4, 2, 3],
        [2, 3],
        [3],
    ]  # user 0 keeps its valid target c
    assert [s.tolist() for s in data.training_sequences()] == [[4, 2], [2, 3], [3]]
    np.testing.assert_array_equal(
        data.item_counts(trained), [0, 0, 2, 3, 1, 0]
    )  # d, a test target, uncounted
    np.testing.assert_array_equal(data.item_counts(), [0, 0, 2, 2, 1, 0])


@pytest.mark.parametrize("trained", [np.array([True, False]), np.array([1, 0, 0])])
def test_validation_trained_must_be_one_boolean_per_user(events_run, trained):
    with pytest.raises(
        ValueError, match="Expected validation_trained to be 3 booleans, one per user"
    ):
        load_sequence_data(events_run).training_sequences(trained)
