"""Time-aware SASRec (`time_intervals`): a planted recency rule, timestamps plumbing, errors.

The planted rule: every item has one successor (a fixed permutation `S`). Gaps between events
are drawn independently: under an hour (17-33 min) or over a day (2-5 days), half and half.
The next item is `S(previous item)` when the last event came under an hour after the one before
it (a quick detour: the user goes back to the earlier thread), else `S(last item)`. The ids up
to the last event say nothing about the last gap, so a model without time can only guess between
the two candidates (top-1 about 0.5); the time-interval bias can pick the right key.

Both candidates always fit in a top 10, so the test reads the top 1, on the test histories
whose last two items differ (where the two candidates differ).
"""

from __future__ import annotations

import json
import pickle

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from models.recommender.config import FIELDS_ADDED_LATER, RecommenderConfig
from models.recommender.inference import load_recommender
from models.recommender.sequence_batches import NextItemBatches
from models.recommender.sequence_data import (
    ITEM_INDEX_OFFSET,
    SequenceData,
    TimedSequence,
    leave_one_out_positions,
    left_pad_timestamps,
    load_sequence_data,
    model_inputs,
)
from models.recommender.training import train_recommender
from tests.recommender_fixtures import planted_sequences, write_events_run

MAX_LENGTH = 12
NUM_ITEMS = 30


def recency_rule_data(num_users: int = 400, seed: int = 0) -> SequenceData:
    rng = np.random.default_rng(seed)
    successor = rng.permutation(NUM_ITEMS)
    sequences = []
    for _ in range(num_users):
        length = int(rng.integers(8, 13))
        short = rng.random(length) < 0.5
        gaps = np.where(
            short, rng.integers(1024, 2000, length), rng.integers(2 * 86400, 5 * 86400, length)
        )
        gaps[0] = 0
        times = 1_700_000_000 + int(rng.integers(0, 10**7)) + np.cumsum(gaps)
        items = [int(rng.integers(NUM_ITEMS))]
        items.append(int(successor[items[0]]))
        for i in range(1, length - 1):  # the gap before event i decides event i + 1
            items.append(int(successor[items[i - 1]] if short[i] else successor[items[i]]))
        sequences.append(TimedSequence(np.array(items) + ITEM_INDEX_OFFSET, times))
    valid, test = leave_one_out_positions(np.array([len(s) for s in sequences]))
    names = [f"item_{i:02d}" for i in range(NUM_ITEMS)]
    return SequenceData(names, sequences, valid, test, [f"user_{u:03d}" for u in range(num_users)])


def _config(**overrides) -> RecommenderConfig:
    arguments = dict(
        hidden_dim=32,
        num_blocks=1,
        num_heads=2,
        max_length=MAX_LENGTH,
        dropout=0.0,
        batch_size=32,
        learning_rate=1e-2,
        learning_rate_decay_epochs=None,
        weight_decay=0.0,
        epochs=10,
        patience=10,
        seed=0,
        jit_compile=False,
    )
    arguments.update(overrides)
    return RecommenderConfig(**arguments)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The planted data and two models trained on it: time-aware and plain (~30 s together)."""
    data = recency_rule_data()
    folders = {}
    for name, time_intervals in (("time_aware", True), ("plain", False)):
        folder = tmp_path_factory.mktemp(name)
        train_recommender(data, folder, _config(time_intervals=time_intervals), verbose=0)
        folders[name] = folder
    return data, folders


def _top1_where_candidates_differ(recommender, data: SequenceData) -> float:
    histories, targets, _ = data.evaluation_examples("test")
    keep = [row for row, history in enumerate(histories) if history[-1] != history[-2]]
    timed = [histories[row] for row in keep]
    scores, _ = recommender.model.score_last(
        model_inputs(timed, MAX_LENGTH, recommender.time_intervals)
    )
    top = np.argmax(np.asarray(scores), axis=1)
    return float(np.mean(top == targets[keep]))


def test_the_time_interval_bias_learns_a_planted_recency_rule(trained):
    data, folders = trained
    time_aware = _top1_where_candidates_differ(load_recommender(folders["time_aware"]), data)
    plain = _top1_where_candidates_differ(load_recommender(folders["plain"]), data)
    assert time_aware > 0.85, time_aware
    assert plain < 0.65, plain
    # the learned bias prefers an event under an hour back (bucket 10) to one days back (17, 18)
    bias = np.asarray(load_recommender(folders["time_aware"]).model.blocks[0].interval_bias)
    assert bias[:, 10].max() > bias[:, 17:19].max()


def test_saved_time_aware_model_round_trips_through_inference(trained):
    data, folders = trained
    recommender = load_recommender(folders["time_aware"])
    assert recommender.time_intervals and recommender.model.get_config()["time_intervals"]
    assert json.loads((folders["time_aware"] / "config.json").read_text())["time_intervals"]
    sequence = data.sequences[0]
    history = [data.item_ids[i - ITEM_INDEX_OFFSET] for i in sequence[:-1]]
    times = sequence.timestamps[:-1].tolist()
    result = recommender.recommend([history], k=3, timestamps=[times])
    scores, _ = recommender.model.score_last(model_inputs([sequence[:-1]], MAX_LENGTH, True))
    best = np.argsort(-np.asarray(scores)[0])
    best = [i for i in best if i not in set(sequence[:-1][-MAX_LENGTH:].tolist())][:3]
    assert result.item_ids[0] == [data.item_ids[i - ITEM_INDEX_OFFSET] for i in best]
    assert result.attention.shape == (1, 2, min(len(history), MAX_LENGTH))
    np.testing.assert_allclose(result.attention.sum(-1), 1.0, atol=1e-5)
    # the plain model accepts timestamps and ignores them
    plain = load_recommender(folders["plain"])
    with_times = plain.recommend([history], k=3, timestamps=[times])
    assert with_times.item_ids == plain.recommend([history], k=3).item_ids


def test_bad_timestamps_get_clear_errors(trained):
    data, folders = trained
    recommender = load_recommender(folders["time_aware"])
    history = ["item_00", "item_01", "item_02"]
    with pytest.raises(ValueError, match="Received: timestamps=None"):
        recommender.recommend([history])
    with pytest.raises(ValueError, match="row 0 .3 items.. Received: 2 timestamps"):
        recommender.recommend([history], timestamps=[[1, 2]])
    with pytest.raises(ValueError, match="Received: len.timestamps.=2"):
        recommender.recommend([history], timestamps=[[1, 2, 3], [4, 5, 6]])
    with pytest.raises(ValueError, match="integer Unix seconds"):
        recommender.recommend([history], timestamps=[["a", "b", "c"]])
    with pytest.raises(ValueError, match="timestamps shape"):
        recommender.model.score_last(
            {"item_ids": np.ones((1, 3), "int32"), "timestamps": np.zeros((1, 2), "int32")}
        )
    with pytest.raises(ValueError, match="time_intervals=True"):
        recommender.model.score_last(np.ones((1, 3), "int32"))
    with pytest.raises(ValueError, match="without timestamps"):
        model_inputs([np.array([2, 3], np.int32)], 4, time_intervals=True)
    with pytest.raises(ValueError, match="one timestamp per item"):
        TimedSequence([2, 3], [1])
    copied = pickle.loads(pickle.dumps(TimedSequence([2, 3], [7, 9])))
    assert copied.timestamps.tolist() == [7, 9] and copied[1:].timestamps.tolist() == [9]
    with pytest.raises(ValueError, match="time_intervals=True"):
        RecommenderConfig(model="gru4rec", time_intervals=True)


def test_batches_carry_relative_timestamps_only_when_asked():
    sequences = [TimedSequence([2, 3, 4, 5], [100, 160, 460, 1000]), TimedSequence([3, 4], [5, 9])]
    batches = NextItemBatches(sequences, 4, 6, tokens_per_batch=8, shuffle=False, timestamps=True)
    inputs, y = batches[0]
    assert set(inputs) == {"item_ids", "timestamps"}
    row = inputs["item_ids"].tolist().index([0, 2, 3, 4])
    assert inputs["timestamps"][row].tolist() == [0, -360, -300, 0]
    assert y["targets"][row].tolist() == [0, 3, 4, 5]
    plain, _ = NextItemBatches(sequences, 4, 6, tokens_per_batch=8, shuffle=False)[0]
    assert isinstance(plain, np.ndarray)
    with pytest.raises(ValueError, match="without timestamps"):
        NextItemBatches([np.array([2, 3, 4], np.int32)], 4, 6, timestamps=True)
    assert left_pad_timestamps([np.array([5, 7])], 3).tolist() == [[0, -2, 0]]


def test_pipeline_timestamps_are_read_and_old_configs_stay_plain(tmp_path):
    folder = write_events_run(tmp_path / "run", planted_sequences(num_users=5, num_items=8))
    data = load_sequence_data(folder)
    assert data.has_timestamps
    training = data.training_sequences()[0]
    assert len(training.timestamps) == len(training)
    saved = RecommenderConfig().to_dict()
    del saved["time_intervals"]
    assert FIELDS_ADDED_LATER["time_intervals"] is False
    assert RecommenderConfig.from_saved(saved).time_intervals is False
    # a run folder without a timestamps column still loads (plain sequences)
    table = pq.read_table(folder / "sequences").drop_columns(["timestamps"])
    for old in (folder / "sequences").glob("*.parquet"):
        old.unlink()
    pq.write_table(pa.table(table), folder / "sequences" / "part-00000.parquet")
    assert not load_sequence_data(folder).has_timestamps


def test_time_aware_savedmodel_takes_timestamps_and_checks_their_shape(trained, tmp_path):
    import tensorflow as tf

    from models.serving.recommender_signature import (
        RecommenderServingSpec,
        export_recommender_savedmodel,
    )
    from models.serving.warmup_requests import read_warmup_requests

    data, folders = trained
    recommender = load_recommender(folders["time_aware"])
    vocabulary = ("<pad>", "<oov>", *recommender.item_ids)
    spec = RecommenderServingSpec(vocabulary, max_length=MAX_LENGTH)
    export_dir = export_recommender_savedmodel(
        recommender.model, spec, tmp_path / "time_aware" / "1", "time_aware"
    )
    loaded = tf.saved_model.load(str(export_dir))
    histories, times = [], []
    for sequence in data.sequences[:3]:
        histories.append([data.item_ids[i - ITEM_INDEX_OFFSET] for i in sequence[:-1]])
        times.append(sequence.timestamps[:-1].tolist())
    width = max(len(h) for h in histories)
    history = np.array([h + [""] * (width - len(h)) for h in histories], dtype=object)
    seconds = np.array([t + [0] * (width - len(t)) for t in times], dtype=np.int64)
    k = np.full(3, 5, dtype=np.int32)
    served = loaded.signatures["serving_default"](
        history=tf.constant(history), k=tf.constant(k), timestamps=tf.constant(seconds)
    )
    expected = recommender.recommend(histories, k=5, timestamps=times)
    served_ids = [[i.decode() for i in row] for row in served["item_ids"].numpy()]
    assert served_ids == expected.item_ids
    with pytest.raises(tf.errors.InvalidArgumentError, match="timestamps"):
        loaded.signatures["serving_default"](
            history=tf.constant(history), k=tf.constant(k), timestamps=tf.constant(seconds[:, 1:])
        )
    records = read_warmup_requests(export_dir / "assets.extra" / "tf_serving_warmup_requests")
    assert records and all("timestamps" in record["inputs"] for record in records)
