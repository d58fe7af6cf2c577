"""fastrnn.Sequential(*layers): composition of an Embedding, recurrent layers,
Dropout and Linear; gradients (finite differences and PyTorch), the state of
several recurrent layers, modes, persistence, the summary, and training a
small language model with fastrnn.train."""
import numpy as np
import pytest

import fastrnn
from fastrnn.models.sequential import Sequential
from gradcheck import assert_gradients_match

V = 6
DT = np.float64


def _lm(dropout_seed=3):
    return Sequential(fastrnn.Embedding(V, 3, padding_idx=0, dtype=DT, seed=1),
                      fastrnn.LSTM(3, 4, num_layers=2, dropout=0.4, recurrent_dropout=0.2,
                                   dtype=DT, seed=2),
                      fastrnn.Dropout(0.3, seed=dropout_seed),
                      fastrnn.Linear(4, V, dtype=DT, seed=4))


def _tokens(shape, seed=0):
    return np.random.default_rng(seed).integers(0, V, shape)


def test_old_names_and_paths_are_kept():
    import importlib
    assert fastrnn.Sequential is Sequential
    assert importlib.import_module("fastrnn.training.train").Sequential is Sequential
    two = Sequential(fastrnn.RNN(2, 3, seed=0), fastrnn.Linear(3, 1, seed=1))
    assert {k.split(".")[0] for k in two.params} == {"recurrent", "output"}
    assert two.recurrent is two.layers[0] and two.output is two.layers[1]
    one = Sequential(fastrnn.GRU(2, 3, seed=0))
    assert one.output is None and all(k.startswith("recurrent.") for k in one.params)
    gru = fastrnn.GRU(2, 3, seed=0)
    assert Sequential(gru, None).layers == (gru,)
    assert Sequential(recurrent=gru, output=None).layers == (gru,)
    lm = _lm()
    assert sorted({k.split(".")[0] for k in lm.params}) == ["0", "1", "3"]
    with pytest.raises(AttributeError, match="model.layers"):
        lm.recurrent


def test_gradients_match_finite_differences_with_fixed_masks():
    model = _lm()
    # no padding token (whose row is held at zero) among the inputs
    tokens = np.maximum(_tokens((5, 3), seed=5), 1)
    targets = _tokens((5, 3), seed=6)
    h0 = (np.random.default_rng(7).standard_normal((2, 3, 4)) * 0.5,
          np.random.default_rng(8).standard_normal((2, 3, 4)) * 0.5)
    drop, lstm = model.layers[2], model.layers[1]

    def fixed_masks():
        drop._rng = np.random.default_rng(9)   # the same masks at every evaluation
        lstm._dropout_rng = np.random.default_rng(10)

    def loss():
        fixed_masks()
        y, _ = model.forward(tokens, h0)
        return fastrnn.losses.softmax_nll(y, targets)[0]

    loss()
    assert drop._mask is not None and (drop._mask == 0).any()
    masks = lstm._cache["masks"]
    assert len(masks.states) == 2 and len(masks.outputs) == 1
    fixed_masks()
    y, _ = model.forward(tokens, h0)
    _, dy = fastrnn.losses.softmax_nll(y, targets)
    model.zero_grad()
    dx, (dh0, dc0) = model.backward(dy)
    assert dx is None
    assert_gradients_match(loss, model, (dh0, h0[0]), (dc0, h0[1]))


def test_several_recurrent_layers_carry_a_tuple_of_states():
    model = Sequential(fastrnn.GRU(2, 4, dtype=DT, seed=0), fastrnn.Dropout(0.2, seed=1).eval(),
                       fastrnn.RNN(4, 3, num_layers=2, dtype=DT, seed=2),
                       fastrnn.Linear(3, 2, dtype=DT, seed=3))
    x = np.random.default_rng(4).standard_normal((6, 2, 2))
    hx = (np.random.default_rng(5).standard_normal((1, 2, 4)),
          np.random.default_rng(6).standard_normal((2, 2, 3)))
    y, (h_gru, h_rnn) = model.forward(x, hx)
    y1, h1 = model.layers[0].forward(x, hx[0])
    y2, h2 = model.layers[2].forward(y1, hx[1])
    np.testing.assert_array_equal(y, model.layers[3].forward(y2))
    np.testing.assert_array_equal(h_gru, h1)
    np.testing.assert_array_equal(h_rnn, h2)
    r = np.random.default_rng(7).standard_normal(y.shape)
    dh_n = (np.zeros_like(h_gru), np.random.default_rng(8).standard_normal(h_rnn.shape))

    def loss():
        y, (_, h) = model.forward(x, hx)
        return float(np.sum(y * r) + np.sum(h * dh_n[1]))

    model.forward(x, hx)
    model.zero_grad()
    dx, dhx = model.backward(r, dh_n)
    assert_gradients_match(loss, model, (dx, x), (dhx[0], hx[0]), (dhx[1], hx[1]))
    with pytest.raises(TypeError, match="tuple of 2 states"):
        model.forward(x, hx[0])


def test_train_and_eval_reach_every_part():
    model = _lm()
    assert model.training and all(getattr(p, "training", True) for p in model.layers)
    assert model.eval() is model
    assert not any(p.training for p in model.layers if hasattr(p, "training"))
    tokens = _tokens((4, 2))
    np.testing.assert_array_equal(model.forward(tokens)[0], model.forward(tokens)[0])
    model.train()
    assert model.layers[2].training


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_agrees_with_the_torch_model(dtype):
    torch = pytest.importorskip("torch")
    model = Sequential(fastrnn.Embedding(V, 3, padding_idx=0, dtype=dtype, seed=1),
                       fastrnn.LSTM(3, 4, num_layers=2, dropout=0.2, dtype=dtype, seed=2),
                       fastrnn.Dropout(0.3, seed=3),
                       fastrnn.Linear(4, V, dtype=dtype, seed=4)).eval()
    module = model.to_torch()
    assert module.layers[1].dropout == pytest.approx(0.2)
    assert isinstance(module.layers[2], torch.nn.Dropout)
    tokens = _tokens((5, 3), seed=5)
    y, (h, c) = model.forward(tokens)
    ty, (th, tc) = module(torch.from_numpy(tokens))
    tol = 1e-5 if dtype == np.float32 else 1e-12
    for a, b in ((y, ty), (h, th), (c, tc)):
        np.testing.assert_allclose(a, b.detach().numpy(), rtol=0, atol=tol)
    dy = np.random.default_rng(6).standard_normal(y.shape).astype(dtype)
    model.backward(dy)
    ty.backward(torch.from_numpy(dy))
    grads = dict(model.grads)
    names = {"0.weight": "layers.0.weight", "3.weight": "layers.3.weight",
             "1.weight_hh_l1": "layers.1.weight_hh_l1", "1.bias_ih_l0": "layers.1.bias_ih_l0"}
    params = dict(module.named_parameters())
    for ours, theirs in names.items():
        np.testing.assert_allclose(grads[ours], params[theirs].grad.numpy(), rtol=0,
                                   atol=10 * tol)


def test_save_and_load_round_trip(tmp_path):
    model = _lm()
    fastrnn.save(model, tmp_path / "lm.npz")
    back = fastrnn.load(tmp_path / "lm.npz")
    assert [type(p) for p in back.layers] == [type(p) for p in model.layers]
    for key, value in model.params.items():
        np.testing.assert_array_equal(back.params[key], value)
    tokens = _tokens((5, 2))
    # the Dropout's generator is saved too: training-mode outputs agree as well
    np.testing.assert_array_equal(back.forward(tokens)[0], model.forward(tokens)[0])


def test_summary_lists_layers_shapes_and_counts():
    model = _lm()
    text = model.summary()
    assert str(model) == text
    lines = text.splitlines()
    assert lines[0] == "Sequential"
    assert "Embedding(6, 3, padding_idx=0, dtype=float64)" in lines[2] and "(B, 3)" in lines[2]
    assert "LSTM(3, 4, num_layers=2, dropout=0.4" in lines[3]
    assert lines[3].rstrip().endswith("304")
    assert "Dropout(p=0.3)" in lines[4] and "(B, 4)" in lines[4]
    assert "Linear(4, 6" in lines[5] and "(B, 6)" in lines[5]
    assert lines[-1].split()[-1] == f"{18 + 304 + 30:,}"


def test_bad_compositions_are_refused():
    with pytest.raises(ValueError, match="Embedding.*first"):
        Sequential(fastrnn.RNN(2, 3), fastrnn.Embedding(4, 2))
    with pytest.raises(TypeError, match="recurrent"):
        Sequential(fastrnn.RNN(2, 3), "x")
    with pytest.raises(TypeError, match="at least one layer"):
        Sequential()
    with pytest.raises(TypeError, match="keyword"):
        Sequential(fastrnn.RNN(2, 3), head=None)


def test_train_fits_a_small_language_model():
    # sequences counting up modulo V: the next token is determined by this one
    rng = np.random.default_rng(0)
    starts = rng.integers(1, V, 24)
    seqs = (starts[None, :] + np.arange(9)[:, None]) % (V - 1) + 1
    X, Y = seqs[:-1], seqs[1:]
    model = Sequential(fastrnn.Embedding(V, 8, padding_idx=0, dtype=DT, seed=1),
                       fastrnn.LSTM(8, 16, num_layers=2, dropout=0.1, recurrent_dropout=0.1,
                                    dtype=DT, seed=2),
                       fastrnn.Dropout(0.1, seed=3), fastrnn.Linear(16, V, dtype=DT, seed=4))
    history = fastrnn.train(model, X, Y, loss="softmax", epochs=30, batch_size=8,
                            optimizer=fastrnn.Adam(model, lr=0.02), seed=0, progress=False)
    assert model.training   # the mode is left as it was
    assert history["loss"][-1] < 0.3 * history["loss"][0]
    model.eval()
    y, _ = model.forward(X)
    assert (y.argmax(axis=-1) == Y).mean() > 0.95


@pytest.mark.parametrize("tbptt,last_only", [(None, False), (3, False), (None, True)])
def test_train_with_lengths_ignores_what_lies_past_each_end(tbptt, last_only):
    rng = np.random.default_rng(1)
    T, N = 7, 6
    lengths = np.array([7, 2, 5, 1, 7, 4])
    X, Y = rng.integers(1, V, (T, N)), rng.integers(0, V, (T, N))
    past = np.arange(T)[:, None] >= lengths[None, :]
    results = []
    for fill in (0, 3):   # two different paddings
        Xp, Yp = np.where(past, fill, X), np.where(past, fill + 1, Y)
        if last_only:   # the target at each sequence's own last step
            Yp = Y[lengths - 1, np.arange(N)]
        model = _lm()
        model.layers[2].p = 0.0   # the same arithmetic in both runs
        model.layers[1].dropout = model.layers[1].recurrent_dropout = 0.0
        history = fastrnn.train(model, Xp, Yp, loss="nll", epochs=2, batch_size=3, tbptt=tbptt,
                                optimizer=fastrnn.SGD(model, 0.1), seed=0, progress=False,
                                lengths=lengths)
        results.append((history["loss"], {k: v.copy() for k, v in model.params.items()}))
    assert results[0][0] == results[1][0]
    for key, value in results[0][1].items():
        np.testing.assert_array_equal(results[1][1][key], value)


def test_train_lengths_are_checked():
    model = _lm()
    X = _tokens((4, 3))
    with pytest.raises(ValueError, match="lengths must have shape"):
        fastrnn.train(model, X, X, loss="nll", lengths=[4, 0, 2], progress=False)
    with pytest.raises(TypeError, match="lengths must be an array of integers"):
        fastrnn.train(model, X, X, loss="nll", lengths=[4.0, 1.0, 2.0], progress=False)
    with pytest.raises(ValueError, match="full BPTT"):
        fastrnn.train(model, X, X[0], loss="nll", lengths=[4, 1, 2], tbptt=2, progress=False)
    with pytest.raises(ValueError, match=r"X must be token ids in \[0, 6\)"):
        fastrnn.train(model, X + 6, X, loss="nll", progress=False)


def test_recurrent_layers_of_every_kind_compose():
    model = Sequential(fastrnn.Embedding(V, 2, dtype=DT, seed=0),
                       fastrnn.LeakyRNN(2, 3, tau=(1.0, 4.0), dtype=DT, seed=1),
                       fastrnn.ClockworkRNN(3, 4, periods=(1, 2), dtype=DT, seed=2),
                       fastrnn.DelayRNN(4, 3, delays=(1, 2), dtype=DT, seed=3),
                       fastrnn.Linear(3, V, dtype=DT, seed=4))
    tokens, targets = _tokens((5, 2), seed=1), _tokens((5, 2), seed=2)

    def loss():
        return fastrnn.losses.softmax_nll(model.forward(tokens)[0], targets)[0]

    y, states = model.forward(tokens)
    assert len(states) == 3 and "(B, 3)" in model.summary().splitlines()[5]
    model.zero_grad()
    model.backward(fastrnn.losses.softmax_nll(y, targets)[1])
    assert_gradients_match(loss, model)


def test_exporters_refuse_what_they_cannot_express():
    pytest.importorskip("onnx")
    with pytest.raises(TypeError, match="one recurrent layer and an optional Linear"):
        fastrnn.to_onnx(_lm(), "unused.onnx")
