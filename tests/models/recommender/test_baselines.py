"""Baselines: most-popular and Markov by hand; GRU4Rec learns the planted rule."""

import keras
import numpy as np
import pytest

from models.recommender.baselines import GRU4RecModel, MarkovChainScorer, MostPopularScorer
from models.recommender.ranking_metrics import evaluate_scorer
from models.recommender.sequence_batches import NextItemBatches
from models.recommender.training import model_scorer
from tests.recommender_fixtures import planted_data


def test_most_popular_scores_are_counts():
    scorer = MostPopularScorer(np.array([0, 0, 3, 1, 2]))
    np.testing.assert_array_equal(scorer([np.array([2]), np.array([3])]), [[0, 0, 3, 1, 2]] * 2)


def test_markov_counts_transitions_from_the_last_item():
    sequences = [np.array([2, 3, 4]), np.array([2, 3]), np.array([2, 4])]
    scorer = MarkovChainScorer(sequences, 5)
    scores = scorer([np.array([4, 2]), np.array([3])])
    # from 2: -> 3 twice, -> 4 once; popularity (2:3, 3:2, 4:2) only breaks ties below 1
    assert np.argmax(scores[0]) == 3 and scores[0, 3] > scores[0, 4] > scores[0, 2]
    assert scores[0, 3] == pytest.approx(2 + 0.5 * 2 / 3)
    assert np.argmax(scores[1]) == 4
    with pytest.raises(ValueError, match="Received: vocabulary_size=2"):
        MarkovChainScorer(sequences, 2)


@pytest.mark.keras_backend
def test_gru4rec_learns_the_planted_rule_and_round_trips_config():
    data = planted_data(num_users=300, num_items=150)
    keras.utils.set_random_seed(0)
    model = GRU4RecModel(data.vocabulary_size, hidden_dim=32, max_length=16, dropout=0.0)
    model.build((None, 16))
    assert GRU4RecModel.from_config(model.get_config()).get_config() == model.get_config()
    model.compile(optimizer=keras.optimizers.Adam(1e-2), jit_compile=False)
    batches = NextItemBatches(
        data.training_sequences(), 16, data.vocabulary_size, tokens_per_batch=512
    )
    histories, targets, users = data.evaluation_examples("test")
    interacted = [data.sequences[u] for u in users]
    before = evaluate_scorer(
        model_scorer(model, 16), histories, targets, interacted, data.vocabulary_size
    )
    for epoch in range(5):
        batches.set_epoch(epoch)
        model.fit(batches, epochs=1, verbose=0)
    after = evaluate_scorer(
        model_scorer(model, 16), histories, targets, interacted, data.vocabulary_size
    )
    assert before["full"]["HR@10"] < 0.3
    assert after["full"]["HR@10"] > 0.8
    _, attention = model.score_last(np.array([[0, 3, 4]]))
    assert attention is None


@pytest.mark.keras_backend
def test_gru4rec_creates_weights_in_build_and_encodes_every_output():
    model = GRU4RecModel(20, hidden_dim=8, max_length=6, dropout=0.0, output_bias=True)
    assert not model.built and not model.weights  # __init__ only stores the arguments
    ids = np.array([[0, 3, 4], [5, 6, 7]], dtype="int32")
    hidden = model.encode(ids)  # builds the model
    assert model.built and model.item_bias is not None
    assert tuple(hidden.shape) == (2, 3, 8)
    sequence, attention = model.encode(ids, output="sequence_and_attention")
    assert attention is None
    last, attention = model.encode(ids, output="last_and_attention")
    assert attention is None and tuple(last.shape) == (2, 8)
    np.testing.assert_allclose(np.asarray(last), np.asarray(sequence)[:, -1, :], atol=1e-6)
    np.testing.assert_allclose(np.asarray(model.encode(ids, output="last")), last, atol=1e-6)
    with pytest.raises(ValueError, match="Received: output='all'"):
        model.encode(ids, output="all")
