import pytest

from pipeline.text_normalization import normalize_text, normalize_text_tensor, tokenize

SAMPLES = [
    "$AAPL shares fell 5.3% to $120.50 after Q3 miss; CEO didn't comment https://t.co/x @bob",
    "Прибыль выросла на 10%!",
    "日本の株価が上昇。",
    "Won't, can't — “great” $TSLA. $GOOG.",
    "",
    "   \t\n ",
    "<script>alert(1)</script> 1,000 shares",
    "Revenue +12 pct, EPS $1.2bn vs 3,400.5 expected",
    "Pfizer announces a $101 buyback worth $2 billion",
]


def test_finance_tokens():
    assert tokenize("$AAPL jumps 5.3% to $120.50, see https://x.co/a") == [
        "$aapl",
        "jumps",
        "<percent>",
        "to",
        "<money>",
        "see",
        "<url>",
    ]
    assert tokenize("Profit didn't rise") == ["profit", "did", "not", "rise"]
    assert tokenize("") == []


def test_money_units_never_swallow_the_next_word():
    assert tokenize("a $101 buyback") == ["a", "<money>", "buyback"]
    assert tokenize("$5bn deal, $2 million fine, $3m") == [
        "<money>",
        "deal",
        "<money>",
        "fine",
        "<money>",
    ]


def test_rejects_non_string():
    with pytest.raises(ValueError, match="Received: text=3"):
        normalize_text(3)


def test_in_graph_normalisation_matches_python():
    tf = pytest.importorskip("tensorflow")
    graph = normalize_text_tensor(tf.constant(SAMPLES)).numpy()
    assert [value.decode("utf-8") for value in graph] == [normalize_text(s) for s in SAMPLES]
