"""fastrnn.LMS, the least-mean-squares online readout (Widrow & Hoff 1960),
against a plain NumPy loop of the same rule, bit for bit in float64."""
import numpy as np
import pytest

import fastrnn
from fastrnn import ESN, LMS, Reservoir


def numpy_lms(X, Y, learning_rate, fit_bias=True):
    """e = y - (W^T x + b); W += eta x e^T; b += eta e, one sample at a time."""
    W = np.zeros((X.shape[1], Y.shape[1]))
    b = np.zeros(Y.shape[1])
    for x, y in zip(X, Y):
        error = y - (x @ W + b)
        W += learning_rate * np.outer(x, error)
        if fit_bias:
            b += learning_rate * error
    return W, b


def _data(T, F, O, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((T, F))
    Y = X @ rng.standard_normal((F, O)) + 0.3 + 0.05 * rng.standard_normal((T, O))
    return X, Y


@pytest.mark.parametrize("F,O", [(1, 1), (4, 1), (7, 2), (33, 3), (64, 5)])
@pytest.mark.parametrize("fit_bias", [True, False])
def test_equals_a_numpy_loop_bit_for_bit(F, O, fit_bias):
    X, Y = _data(250, F, O)
    m = LMS(learning_rate=0.01, fit_bias=fit_bias).fit(X, Y)
    W, b = numpy_lms(X, Y, 0.01, fit_bias)
    assert np.array_equal(m.coef_, W)
    assert np.array_equal(m.intercept_, b)
    assert m.n_samples_seen_ == 250
    assert np.array_equal(m.predict(X), X @ m.coef_ + m.intercept_)


def test_learns_a_linear_map():
    X, Y = _data(4000, 3, 2, seed=1)
    m = LMS(learning_rate=0.02).fit(X, Y)
    solution = np.linalg.lstsq(np.hstack([X, np.ones((len(X), 1))]), Y, rcond=None)[0]
    assert np.allclose(m.coef_, solution[:3], atol=0.05)
    assert np.allclose(m.intercept_, solution[3], atol=0.05)


def test_chunked_partial_fit_equals_one_call():
    X, Y = _data(301, 6, 2)
    whole = LMS(0.01).partial_fit(X, Y)
    chunked = LMS(0.01)
    for start in range(0, 301, 37):
        chunked.partial_fit(X[start:start + 37], Y[start:start + 37])
    assert np.array_equal(whole.coef_, chunked.coef_)
    assert np.array_equal(whole.intercept_, chunked.intercept_)
    assert chunked.n_samples_seen_ == 301


def test_a_list_of_series_is_one_stream_in_order():
    X, Y = _data(100, 3, 1)
    a = LMS(0.01).fit([X[:40], X[40:]], [Y[:40], Y[40:]])
    b = LMS(0.01).fit(X, Y)
    assert np.array_equal(a.coef_, b.coef_)


def test_three_dimensional_input_pools_rows_time_major():
    X, Y = _data(60, 3, 2)
    batched = LMS(0.01).fit(X.reshape(30, 2, 3), Y.reshape(30, 2, 2))
    flat = LMS(0.01).fit(X, Y)
    assert np.array_equal(batched.coef_, flat.coef_)


def test_single_output_as_1d():
    X, Y = _data(80, 4, 1)
    m = LMS(0.01).fit(X, Y[:, 0])
    assert m.coef_.shape == (4,) and np.ndim(m.intercept_) == 0
    assert m.predict(X).shape == (80,)


def test_float32_close_to_float64():
    X, Y = _data(200, 5, 2)
    m32 = LMS(0.01, dtype=np.float32).fit(X, Y)
    m64 = LMS(0.01).fit(X, Y)
    assert m32.coef_.dtype == np.float32
    assert np.allclose(m32.coef_, m64.coef_, atol=1e-4)


def test_save_load_mid_stream_bit_exact(tmp_path):
    X, Y = _data(200, 5, 2)
    m = LMS(0.02).partial_fit(X[:90], Y[:90])
    path = tmp_path / "lms.npz"
    fastrnn.save(m, path)
    loaded = fastrnn.load(path)
    assert np.array_equal(loaded.coef_, m.coef_)
    assert loaded.n_samples_seen_ == 90
    m.partial_fit(X[90:], Y[90:])
    loaded.partial_fit(X[90:], Y[90:])
    assert np.array_equal(loaded.coef_, m.coef_)
    assert np.array_equal(loaded.intercept_, m.intercept_)
    fresh = LMS(0.02)
    fastrnn.save(fresh, tmp_path / "fresh.npz")
    assert not hasattr(fastrnn.load(tmp_path / "fresh.npz"), "coef_")


def test_as_esn_readout_equals_lms_on_the_states():
    rng = np.random.default_rng(3)
    u = rng.standard_normal((300, 2))
    y = np.sin(np.cumsum(u, axis=0))
    esn = ESN(Reservoir(40, lr=0.5, seed=5), LMS(0.01)).fit(u, y, warmup=20)
    states = Reservoir(40, lr=0.5, seed=5).run(u)[20:]
    W, b = numpy_lms(states, y[20:], 0.01)
    assert np.array_equal(esn.readout.coef_, W)
    assert np.array_equal(esn.readout.intercept_, b)
    esn.reset()
    fresh_states = Reservoir(40, lr=0.5, seed=5).run(u[:10])
    assert np.allclose(esn.run(u[:10]), fresh_states @ W + b, rtol=1e-12, atol=1e-12)


def test_esn_with_lms_and_feedback_round_trips(tmp_path):
    rng = np.random.default_rng(4)
    u = rng.standard_normal((200, 1))
    y = np.tanh(np.cumsum(u, axis=0) * 0.1)
    esn = ESN(Reservoir(30, seed=2), LMS(0.005), feedback=True).fit(u[:150], y[:150])
    fastrnn.save(esn, tmp_path / "esn.npz")
    loaded = fastrnn.load(tmp_path / "esn.npz")
    assert isinstance(loaded.readout, LMS)
    assert np.array_equal(loaded.run(u[150:]), esn.run(u[150:]))


@pytest.mark.parametrize("rate", [0, -1e-3, float("nan"), "0.1"])
def test_bad_learning_rate(rate):
    with pytest.raises((ValueError, TypeError), match="learning_rate"):
        LMS(rate)


def test_bad_data():
    m = LMS(0.01)
    with pytest.raises(ValueError, match="Y"):
        m.fit(np.zeros((10, 3)), np.zeros((9, 1)))
    with pytest.raises(ValueError, match="NaN"):
        m.fit(np.full((10, 3), np.nan), np.zeros((10, 1)))
    m.partial_fit(np.zeros((10, 3)), np.zeros((10, 1)))
    with pytest.raises(ValueError, match="3 features"):
        m.partial_fit(np.zeros((10, 4)), np.zeros((10, 1)))
    with pytest.raises(fastrnn.NotFittedError):
        LMS().predict(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="features"):
        m.predict(np.zeros((2, 5)))
