"""The exception raised by calls made in the wrong order."""
import pytest

import fastrnn


def test_not_fitted_error_is_a_value_error_and_an_attribute_error():
    # scikit-learn's convention: code that catches either keeps working.
    assert issubclass(fastrnn.NotFittedError, ValueError)
    assert issubclass(fastrnn.NotFittedError, AttributeError)


@pytest.mark.parametrize("make", [
    lambda: fastrnn.Ridge().predict([[1.0]]),
    lambda: fastrnn.LSTM(2, 3).backward([[[0.0, 0.0, 0.0]]]),
    lambda: fastrnn.Linear(2, 3).backward([[[0.0, 0.0, 0.0]]]),
])
def test_too_early_calls_say_what_to_call_first(make):
    with pytest.raises(fastrnn.NotFittedError, match="first"):
        make()
