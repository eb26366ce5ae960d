import pytest

from dashboard.highlight import escape_markdown, highlight_tokens_html, normalised_weights
from tests.dashboard_fixtures import MALICIOUS_TOKENS


def test_tokens_are_escaped():
    html = highlight_tokens_html(MALICIOUS_TOKENS, [0.1, 0.4, 0.2, 0.2, 0.05, 0.05])
    assert "<script" not in html and "<img" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html
    # the only tags are the ones this module writes
    assert html.count("<span") == len(MALICIOUS_TOKENS)


def test_quotes_cannot_break_out_of_an_attribute():
    html = highlight_tokens_html(['" onmouseover="alert(1)'], [1.0])
    assert 'onmouseover="' not in html
    assert "&quot; onmouseover=&quot;alert(1)" in html


def test_opacity_follows_the_weight():
    html = highlight_tokens_html(["low", "high"], [0.25, 1.0])
    assert "rgba(255, 140, 0, 0.250)" in html and "rgba(255, 140, 0, 1.000)" in html


def test_weights_normalise_and_clean():
    assert normalised_weights([2.0, 1.0, float("nan"), -1.0]) == [1.0, 0.5, 0.0, 0.0]
    assert normalised_weights([0.0, 0.0]) == [0.0, 0.0]


def test_length_mismatch_raises():
    with pytest.raises(ValueError, match="Received: len\\(tokens\\)=2, len\\(weights\\)=1"):
        highlight_tokens_html(["a", "b"], [1.0])


def test_escape_markdown_keeps_text_literal():
    assert escape_markdown("<b>*x*</b> [a](b)") == r"\<b\>\*x\*\</b\> \[a\]\(b\)"
