"""dropout= (between stacked layers, as PyTorch's) and recurrent_dropout=
(Gal & Ghahramani (2016): one mask per sequence on h_{t-1} where it enters
W_hh h_{t-1}) of RNN, LSTM and GRU: a NumPy reference with the same masks,
exact gradients with the masks fixed, evaluation mode and p = 0 bit for bit,
reproducibility, persistence and PyTorch's dropout setting."""
import numpy as np
import pytest

import fastrnn
from gradcheck import assert_gradients_match

D, H, T, B = 3, 5, 6, 4
LENGTHS = np.array([6, 3, 5, 0])
CELLS = {
    "rnn": lambda hidden=H, **kw: fastrnn.RNN(D, hidden, **kw),
    "rnn_relu": lambda hidden=H, **kw: fastrnn.RNN(D, hidden, nonlinearity="relu", **kw),
    "lstm": lambda hidden=H, **kw: fastrnn.LSTM(D, hidden, **kw),
    "gru": lambda hidden=H, **kw: fastrnn.GRU(D, hidden, **kw),
    "gru_before": lambda hidden=H, **kw: fastrnn.GRU(D, hidden, reset_after=False, **kw),
}


def _sigmoid(a):
    return 1 / (1 + np.exp(-a))


def _reference_layer(layer, k, x, state_mask, lengths):
    """One unidirectional layer ``k`` in NumPy, h_{t-1} times state_mask in
    every recurrent product; rows past their length keep their state and
    output zero."""
    p = {n[:-len(f"_l{k}")]: v for n, v in layer.params.items() if n.endswith(f"_l{k}")}
    w_ih, w_hh, b_ih, b_hh = p["weight_ih"], p["weight_hh"], p["bias_ih"], p["bias_hh"]
    h = np.zeros((x.shape[1], H))
    c = np.zeros_like(h)
    ys = np.zeros((x.shape[0], x.shape[1], H))
    for t in range(x.shape[0]):
        live = (t < lengths)[:, None]
        hm = state_mask * h
        ax = x[t] @ w_ih.T + b_ih
        if isinstance(layer, fastrnn.LSTM):
            a = ax + hm @ w_hh.T + b_hh
            i, f, o = _sigmoid(a[:, :H]), _sigmoid(a[:, H:2 * H]), _sigmoid(a[:, 3 * H:])
            c_new = f * c + i * np.tanh(a[:, 2 * H:3 * H])
            h_new = o * np.tanh(c_new)
            c = np.where(live, c_new, c)
        elif isinstance(layer, fastrnn.GRU):
            r = _sigmoid(ax[:, :H] + hm @ w_hh[:H].T + b_hh[:H])
            z = _sigmoid(ax[:, H:2 * H] + hm @ w_hh[H:2 * H].T + b_hh[H:2 * H])
            if layer.reset_after:
                n = np.tanh(ax[:, 2 * H:] + r * (hm @ w_hh[2 * H:].T + b_hh[2 * H:]))
            else:
                n = np.tanh(ax[:, 2 * H:] + (r * hm) @ w_hh[2 * H:].T + b_hh[2 * H:])
            h_new = (1 - z) * n + z * h   # the unmasked state carries over
        else:
            a = ax + hm @ w_hh.T + b_hh
            h_new = np.tanh(a) if layer.nonlinearity == "tanh" else np.maximum(a, 0)
        h = np.where(live, h_new, h)
        ys[t] = np.where(live, h, 0)
    return ys, h


@pytest.mark.parametrize("cell", sorted(CELLS))
def test_forward_is_the_reference_with_the_same_masks(cell):
    layer = CELLS[cell](num_layers=2, dropout=0.4, recurrent_dropout=0.3, dtype=np.float64,
                        seed=1)
    x = np.random.default_rng(0).standard_normal((T, B, D))
    y, h_n = layer.forward(x, lengths=LENGTHS)
    masks = layer._cache["masks"]
    assert [m.shape for m in masks.states] == [(B, H), (B, H)]
    assert [m.shape for m in masks.outputs] == [(T, B, H)]
    assert all((m == 0).any() and (m > 1).any() for m in masks.states + masks.outputs)
    y0, h0 = _reference_layer(layer, 0, x, masks.states[0], LENGTHS)
    y1, h1 = _reference_layer(layer, 1, y0 * masks.outputs[0], masks.states[1], LENGTHS)
    np.testing.assert_allclose(y, y1, rtol=0, atol=1e-12)
    h_n = h_n[0] if isinstance(h_n, tuple) else h_n
    np.testing.assert_allclose(h_n, np.stack([h0, h1]), rtol=0, atol=1e-12)


@pytest.mark.parametrize("cell,bidirectional", [(c, False) for c in sorted(CELLS)]
                         + [("lstm", True), ("gru_before", True)])
def test_gradients_are_exact_with_the_masks_fixed(cell, bidirectional):
    hidden = 3   # few parameters: the finite differences run two passes for each
    layer = CELLS[cell](hidden, num_layers=2, dropout=0.4, recurrent_dropout=0.3,
                        bidirectional=bidirectional, dtype=np.float64, seed=2)
    x = np.random.default_rng(3).standard_normal((T, B, D))
    width = hidden * layer.num_directions
    r = np.random.default_rng(4).standard_normal((T, B, width))
    h0 = np.random.default_rng(5).standard_normal((2 * layer.num_directions, B, hidden))
    hx = (h0, h0 * 0.5) if cell == "lstm" else h0

    def loss():
        layer._dropout_rng = np.random.default_rng(6)   # the same masks every time
        y, _ = layer.forward(x, hx, lengths=LENGTHS)
        return float(np.sum(y * r))

    loss()
    layer.zero_grad()
    dx, dhx = layer.backward(r)
    dh0 = dhx[0] if cell == "lstm" else dhx
    assert_gradients_match(loss, layer, (dx, x), (dh0, h0))


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_evaluation_mode_and_p_zero_are_bit_for_bit_without_dropout(cell, dtype):
    x = np.random.default_rng(7).standard_normal((T, B, D)).astype(dtype)
    dy = np.random.default_rng(8).standard_normal((T, B, H)).astype(dtype)
    plain = CELLS[cell](num_layers=2, dtype=dtype, seed=9)
    zero = CELLS[cell](num_layers=2, dropout=0.0, recurrent_dropout=0.0, dtype=dtype, seed=9)
    off = CELLS[cell](num_layers=2, dropout=0.5, recurrent_dropout=0.5, dtype=dtype,
                      seed=9).eval()
    results = []
    for layer in (plain, zero, off):
        y, _ = layer.forward(x, lengths=LENGTHS)
        dx, _ = layer.backward(dy)
        results.append((y, dx, layer.grads["weight_hh_l0"].copy()))
    for other in results[1:]:
        for a, b in zip(results[0], other):
            assert np.array_equal(a, b)


def test_a_seed_reproduces_the_masks():
    def run():
        layer = fastrnn.LSTM(D, H, num_layers=3, dropout=0.5, recurrent_dropout=0.5,
                             dtype=np.float64, seed=10)
        x = np.ones((T, B, D))
        return [layer.forward(x)[0] for _ in range(3)]

    first, second = run(), run()
    for a, b in zip(first, second):
        assert np.array_equal(a, b)
    assert not np.array_equal(first[0], first[1])   # fresh masks at every forward
    # the weights are those of the same seed without dropout: masks come after
    np.testing.assert_array_equal(
        fastrnn.LSTM(D, H, num_layers=3, dropout=0.5, seed=10).params["weight_hh_l2"],
        fastrnn.LSTM(D, H, num_layers=3, seed=10).params["weight_hh_l2"])


def test_the_state_mask_is_the_same_at_every_step():
    # With W_ih = 0, b = 0 and W_hh = I, a relu RNN gives h_t = mask * h_{t-1}:
    # h_t = mask^t h_0 exactly when one mask serves every step of a sequence
    layer = fastrnn.RNN(1, H, nonlinearity="relu", recurrent_dropout=0.5, dtype=np.float64,
                        seed=11)
    for name, p in layer.params.items():
        p[...] = np.eye(H) if name == "weight_hh_l0" else 0
    h0 = np.ones((1, B, H))
    y, _ = layer.forward(np.zeros((4, B, 1)), h0)
    mask = layer._cache["masks"].states[0]
    for t in range(4):
        np.testing.assert_allclose(y[t], mask ** (t + 1), rtol=1e-14)


def test_settings_are_saved_shown_and_checked(tmp_path):
    layer = fastrnn.GRU(D, H, num_layers=2, dropout=0.25, recurrent_dropout=0.1, seed=0)
    assert "dropout=0.25" in repr(layer) and "recurrent_dropout=0.1" in repr(layer)
    fastrnn.save(layer, tmp_path / "g.npz")
    back = fastrnn.load(tmp_path / "g.npz")
    assert (back.dropout, back.recurrent_dropout) == (0.25, 0.1)
    with pytest.raises(ValueError, match="dropout"):
        fastrnn.LSTM(D, H, dropout=1.5)
    with pytest.raises(ValueError, match="recurrent_dropout"):
        fastrnn.LSTM(D, H, recurrent_dropout=1.0)
    with pytest.warns(UserWarning, match="num_layers=1"):
        fastrnn.LSTM(D, H, dropout=0.2)


@pytest.mark.parametrize("cls", ["RNN", "LSTM", "GRU"])
def test_torch_dropout_is_carried_both_ways(cls):
    torch = pytest.importorskip("torch")
    module = getattr(torch.nn, cls)(D, H, num_layers=2, dropout=0.3)
    layer = getattr(fastrnn, cls).from_torch(module)
    assert layer.dropout == pytest.approx(0.3) and layer.training
    assert not getattr(fastrnn, cls).from_torch(module.eval()).training
    assert layer.to_torch().dropout == pytest.approx(0.3)
    with pytest.warns(UserWarning, match="recurrent_dropout"):
        getattr(fastrnn, cls)(D, H, recurrent_dropout=0.2).to_torch()
