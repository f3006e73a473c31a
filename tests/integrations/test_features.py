"""The client's default featurizer (clients/python/outcome_ledger_client/
features.py): what the ledger declares for it, determinism, and that the
numbers carry the shape of a request, not its words."""

from hypothesis import given, settings
from hypothesis import strategies as st

from outcome_ledger_client import features, request_features
from routing.models import DEFAULT_FEATURIZER, FEATURIZERS


def test_the_ledger_declares_the_featurizer_the_client_ships():
    assert (DEFAULT_FEATURIZER, FEATURIZERS[DEFAULT_FEATURIZER]) == (
        features.NAME,
        features.LENGTH,
    )


@settings(deadline=None)
@given(text=st.text(max_size=2000))
def test_any_text_gives_the_declared_number_of_finite_features_every_time(text):
    first = request_features(text)

    assert len(first) == features.LENGTH
    assert all(value == value and abs(value) < 1e6 for value in first)
    assert request_features(text) == first


def test_texts_with_the_same_shape_but_other_words_give_the_same_features():
    # Counts and shares, no words outside the fixed markers: the ledger
    # cannot tell these two apart.
    assert request_features("Please refund order 4411 for Alice today.") == request_features(
        "Kindly cancel parce 9387 off Bobby rapid."
    )


def test_code_and_maths_requests_differ_from_prose_in_their_markers():
    prose = request_features("Summarize the meeting notes for the team.")
    code = request_features("Debug this:\n```\ndef f(x):\n    return {x: 1};\n```")
    maths = request_features("Prove that \\frac{a}{b} + sqrt(c) >= 2^n.")
    code_markers, maths_markers = 17, 19

    assert (prose[code_markers], prose[maths_markers]) == (0.0, 0.0)
    assert code[code_markers] > 0
    assert maths[maths_markers] > 0
