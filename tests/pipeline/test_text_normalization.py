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
    # control characters and Unicode spaces: NUL (TensorFlow's UTF-8 lower-casing stops at it),
    # U+0085 (Python's strip removed it, TensorFlow's did not), other C0/C1, em and ideographic
    # spaces, line separators, a byte-order mark
    "a\x00b",
    "\x85x",
    "x\x85",
    "\x00",
    "a\x0bb\x0cc\x1fd\x7fe\x9ff",
    "\u2003lead and trail\u3000",
    "one\u2028two\u2029three\ufeff",
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


def test_control_characters_and_unicode_spaces_separate_tokens():
    assert tokenize("a\x00b") == ["a", "b"]
    assert tokenize("\x85x") == ["x"]
    assert tokenize("\u2003lead\u3000") == ["lead"]
    assert normalize_text("\x00\x85\u2028") == ""


def test_in_graph_normalisation_matches_python():
    tf = pytest.importorskip("tensorflow")
    graph = normalize_text_tensor(tf.constant(SAMPLES)).numpy()
    assert [value.decode("utf-8") for value in graph] == [normalize_text(s) for s in SAMPLES]
