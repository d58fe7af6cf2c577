"""The tanh/ReLU RNN: forward and BPTT against an independent NumPy
implementation and finite differences, and its handling of bad input."""
import numpy as np
import pytest

import fastrnn
import reference
from gradcheck import assert_gradients_match, rel_error

TOL = {np.float32: 2e-5, np.float64: 1e-12}


def _run_reference(layer, x, h0, dy, dh_T, clip_hidden=None):
    p = layer.params
    dt = layer.dtype
    H = layer.hidden_size
    b_ih = p.get("bias_ih_l0", np.zeros(H, dt))
    b_hh = p.get("bias_hh_l0", np.zeros(H, dt))
    hs = reference.rnn_forward(x.astype(dt), p["weight_ih_l0"], p["weight_hh_l0"],
                               b_ih, b_hh, h0.astype(dt), layer.nonlinearity)
    grads = reference.rnn_backward(x.astype(dt), p["weight_ih_l0"], p["weight_hh_l0"], hs,
                                   dy.astype(dt), dh_T.astype(dt), layer.nonlinearity,
                                   clip_hidden)
    return hs, grads


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("T,B", [(1, 1), (50, 1), (1, 4), (50, 4)])
@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_matches_numpy_reference(dtype, T, B, nonlinearity, rng):
    D, H = 3, 7
    layer = fastrnn.RNN(D, H, nonlinearity=nonlinearity, dtype=dtype, seed=1)
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((1, B, H))
    y, h_T = layer.forward(x, h0)
    dy = rng.standard_normal(y.shape)
    dh_T = rng.standard_normal(h_T.shape)
    dx, dh0 = layer.backward(dy, dh_T)

    hs, (rdx, rdh0, rw_ih, rw_hh, rb) = _run_reference(layer, x, h0[0], dy, dh_T[0])
    tol = TOL[dtype]
    assert y.dtype == dtype and dx.dtype == dtype
    assert y.shape == (T, B, H) and h_T.shape == (1, B, H)
    assert rel_error(y, hs[1:]) < tol
    assert rel_error(h_T[0], hs[-1]) < tol
    assert rel_error(dx, rdx) < tol
    assert rel_error(dh0[0], rdh0) < tol
    assert rel_error(layer.grads["weight_ih_l0"], rw_ih) < tol
    assert rel_error(layer.grads["weight_hh_l0"], rw_hh) < tol
    assert rel_error(layer.grads["bias_ih_l0"], rb) < tol
    assert rel_error(layer.grads["bias_hh_l0"], rb) < tol


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
@pytest.mark.parametrize("bias", [True, False])
def test_gradients_match_finite_differences(nonlinearity, bias, rng):
    T, B, D, H = 6, 2, 3, 5
    layer = fastrnn.RNN(D, H, nonlinearity=nonlinearity, bias=bias, dtype=np.float64, seed=3)
    x = rng.standard_normal((T, B, D))
    h0 = rng.standard_normal((1, B, H)) * 0.5
    wy = rng.standard_normal((T, B, H))   # loss = sum(wy * y) + sum(wh * h_T)
    wh = rng.standard_normal((1, B, H))

    def loss():
        y, h_T = layer.forward(x, h0)
        return float(np.sum(wy * y) + np.sum(wh * h_T))

    loss()
    layer.zero_grad()
    dx, dh0 = layer.backward(wy, wh)
    assert_gradients_match(loss, layer, (dx, x), (dh0, h0))


def test_clip_hidden_matches_reference(rng):
    T, B, D, H = 30, 3, 4, 6
    layer = fastrnn.RNN(D, H, dtype=np.float64, seed=0)
    layer.params["weight_hh_l0"] *= 4.0   # large recurrent gain: big dL/dh_t
    x = rng.standard_normal((T, B, D))
    h0 = np.zeros((1, B, H))
    y, h_T = layer.forward(x, h0)
    dy = 10 * rng.standard_normal(y.shape)
    dh_T = np.zeros_like(h_T)
    dx, dh0 = layer.backward(dy, dh_T, clip_hidden=0.5)
    _, (rdx, rdh0, rw_ih, rw_hh, _) = _run_reference(layer, x, h0[0], dy, dh_T[0], 0.5)
    assert rel_error(dx, rdx) < 1e-12
    assert rel_error(layer.grads["weight_hh_l0"], rw_hh) < 1e-12
    # and clipping really changed something
    layer.zero_grad()
    layer.forward(x, h0)
    dx_unclipped, _ = layer.backward(dy, dh_T)
    assert rel_error(dx, dx_unclipped) > 1e-3


def test_grads_accumulate_until_zero_grad(rng):
    layer = fastrnn.RNN(3, 4, dtype=np.float64, seed=0)
    x = rng.standard_normal((5, 2, 3))
    y, _ = layer.forward(x)
    layer.backward(np.ones_like(y))
    once = {k: g.copy() for k, g in layer.grads.items()}
    layer.backward(np.ones_like(y))
    for k in once:
        np.testing.assert_allclose(layer.grads[k], 2 * once[k], rtol=1e-14)
    layer.zero_grad()
    assert all(not g.any() for g in layer.grads.values())


def test_unbatched_and_batch_first_layouts(rng):
    T, B, D, H = 7, 3, 4, 5
    layer = fastrnn.RNN(D, H, dtype=np.float64, seed=2)
    layer_bf = fastrnn.RNN(D, H, dtype=np.float64, seed=2, batch_first=True)
    x = rng.standard_normal((T, B, D))
    y, h = layer.forward(x)
    y_bf, h_bf = layer_bf.forward(x.transpose(1, 0, 2))
    np.testing.assert_array_equal(y_bf, y.transpose(1, 0, 2))
    np.testing.assert_array_equal(h_bf, h)
    dy = rng.standard_normal(y.shape)
    dx, _ = layer.backward(dy)
    dx_bf, _ = layer_bf.backward(dy.transpose(1, 0, 2))
    np.testing.assert_allclose(dx_bf, dx.transpose(1, 0, 2), rtol=1e-13, atol=1e-15)

    y1, h1 = layer.forward(x[:, 1])        # one sequence, 2-D
    assert y1.shape == (T, H) and h1.shape == (1, H)
    np.testing.assert_allclose(y1, y[:, 1], rtol=1e-13)
    dx1, dh01 = layer.backward(dy[:, 1])
    assert dx1.shape == (T, D) and dh01.shape == (1, H)


def test_strided_fortran_and_readonly_inputs_give_same_result(rng):
    layer = fastrnn.RNN(3, 4, dtype=np.float64, seed=0)
    base = rng.standard_normal((10, 2, 6))
    x = np.ascontiguousarray(base[:, :, ::2])
    y_ref, _ = layer.forward(x)
    y_strided, _ = layer.forward(base[:, :, ::2])
    y_fortran, _ = layer.forward(np.asfortranarray(x))
    ro = x.copy()
    ro.flags.writeable = False
    y_ro, _ = layer.forward(ro)
    for y in (y_strided, y_fortran, y_ro):
        np.testing.assert_array_equal(y, y_ref)


def test_integer_input_is_cast_and_object_refused():
    layer = fastrnn.RNN(2, 3, dtype=np.float32, seed=0)
    xi = np.arange(8).reshape(4, 1, 2)
    y_int, _ = layer.forward(xi)
    y_float, _ = layer.forward(xi.astype(np.float32))
    np.testing.assert_array_equal(y_int, y_float)
    with pytest.raises(TypeError, match="x"):
        layer.forward(np.array([[[None, 1.0]]], dtype=object))
    with pytest.raises(TypeError, match="x"):
        layer.forward(np.ones((4, 1, 2), dtype=complex))


def test_bad_shapes_are_named():
    layer = fastrnn.RNN(2, 3)
    with pytest.raises(ValueError, match="x must be 2 or 3-dimensional"):
        layer.forward(np.ones(5))
    with pytest.raises(ValueError, match="input_size"):
        layer.forward(np.ones((5, 1, 4)))
    with pytest.raises(ValueError, match="hx must have shape"):
        layer.forward(np.ones((5, 2, 2)), hx=np.zeros((2, 3)))
    y, _ = layer.forward(np.ones((5, 2, 2)))
    with pytest.raises(ValueError, match="dy must have shape"):
        layer.backward(np.ones((5, 2, 4)))
    with pytest.raises(ValueError, match="clip_hidden"):
        layer.backward(np.ones_like(y), clip_hidden=-1.0)


@pytest.mark.parametrize("kwargs, err", [
    (dict(input_size=0, hidden_size=3), ValueError),
    (dict(input_size=2, hidden_size=-1), ValueError),
    (dict(input_size=2.5, hidden_size=3), TypeError),
    (dict(input_size=2, hidden_size=3, nonlinearity="sigmoid"), ValueError),
    (dict(input_size=2, hidden_size=3, dtype=np.int32), TypeError),
])
def test_bad_constructor_arguments(kwargs, err):
    with pytest.raises(err):
        fastrnn.RNN(**kwargs)


def test_backward_before_forward_is_an_error():
    with pytest.raises(fastrnn.NotFittedError, match="before forward"):
        fastrnn.RNN(2, 3).backward(np.zeros((1, 1, 3)))


def test_empty_sequence(rng):
    layer = fastrnn.RNN(2, 3, dtype=np.float64, seed=0)
    h0 = rng.standard_normal((1, 4, 3))
    y, h_T = layer.forward(np.zeros((0, 4, 2)), h0)
    assert y.shape == (0, 4, 3)
    np.testing.assert_array_equal(h_T, h0)
    dh_T = rng.standard_normal(h_T.shape)
    dx, dh0 = layer.backward(np.zeros((0, 4, 3)), dh_T)
    assert dx.shape == (0, 4, 2)
    np.testing.assert_array_equal(dh0, dh_T)
    assert all(not g.any() for g in layer.grads.values())


def test_nan_in_input_propagates_without_crash():
    layer = fastrnn.RNN(2, 3, dtype=np.float32, seed=0)
    x = np.zeros((4, 1, 2), dtype=np.float32)
    x[1, 0, 0] = np.nan
    y, _ = layer.forward(x)
    assert np.all(np.isfinite(y[0])) and np.all(np.isnan(y[1:]))


def test_state_dict_round_trip_and_mismatch():
    a = fastrnn.RNN(3, 4, seed=0)
    b = fastrnn.RNN(3, 4, seed=1)
    b.load_state_dict(a.state_dict())
    for k in a.params:
        np.testing.assert_array_equal(a.params[k], b.params[k])
    with pytest.raises(ValueError, match="missing"):
        b.load_state_dict({"weight_ih_l0": a.params["weight_ih_l0"]})
    bad = a.state_dict()
    bad["weight_hh_l0"] = np.zeros((4, 5))
    with pytest.raises(ValueError, match="weight_hh_l0 must have shape"):
        b.load_state_dict(bad)


def test_agrees_with_pytorch(rng):
    torch = pytest.importorskip("torch")
    T, B, D, H = 20, 3, 5, 6
    for dtype, tdtype, tol in [(np.float32, torch.float32, 1e-5), (np.float64, torch.float64, 1e-10)]:
        ref = torch.nn.RNN(D, H).to(tdtype)
        layer = fastrnn.RNN(D, H, dtype=dtype)
        layer.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
        x = rng.standard_normal((T, B, D)).astype(dtype)
        h0 = rng.standard_normal((1, B, H)).astype(dtype)
        dy = rng.standard_normal((T, B, H)).astype(dtype)
        xt = torch.tensor(x, requires_grad=True)
        h0t = torch.tensor(h0, requires_grad=True)
        yt, hTt = ref(xt, h0t)
        (yt * torch.tensor(dy)).sum().backward()
        y, h_T = layer.forward(x, h0)
        dx, dh0 = layer.backward(dy)
        assert rel_error(y, yt.detach().numpy()) < tol
        assert rel_error(h_T, hTt.detach().numpy()) < tol
        assert rel_error(dx, xt.grad.numpy()) < tol
        assert rel_error(dh0, h0t.grad.numpy()) < tol
        for name, p in ref.named_parameters():
            assert rel_error(layer.grads[name], p.grad.numpy()) < tol, name


def test_numpy_baseline_of_the_benchmarks_is_the_same_maths(rng):
    """fastrnn.numpy_rnn (the speed baseline) must compute what RNN computes."""
    from fastrnn.cli import numpy_rnn
    layer = fastrnn.RNN(3, 5, dtype=np.float64, seed=0)
    x = rng.standard_normal((9, 2, 3))
    dy = rng.standard_normal((9, 2, 5))
    y, _ = layer.forward(x)
    dx, dh0 = layer.backward(dy)
    hs = numpy_rnn.forward(x, layer.params)
    ndx, ndh0, dw_ih, dw_hh, db = numpy_rnn.backward(x, layer.params, hs, dy)
    assert rel_error(hs[1:], y) < 1e-12
    assert rel_error(ndx, dx) < 1e-12 and rel_error(ndh0, dh0[0]) < 1e-12
    assert rel_error(dw_hh, layer.grads["weight_hh_l0"]) < 1e-12
    assert rel_error(db, layer.grads["bias_ih_l0"]) < 1e-12


def test_demo_learns_the_built_in_task():
    from fastrnn.cli.demo import run_demo
    result = run_demo(steps=200, verbose=False)
    assert result["accuracy"] > 0.9
