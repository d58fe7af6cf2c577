"""StackedRNN: recurrent layers of any kinds in series, every layer's states
concatenated into the output (Goodfellow et al. (2016), sec. 10.5; Graves 2013)."""
import numpy as np
import pytest

import fastrnn
from fastrnn.models.stack import StackedRNN
from gradcheck import assert_gradients_match


def _layers(dtype=np.float64, batch_first=False):
    return [fastrnn.LSTM(3, 4, dtype=dtype, seed=1, batch_first=batch_first),
            fastrnn.GRU(4, 3, bidirectional=True, dtype=dtype, seed=2,
                        batch_first=batch_first),
            fastrnn.DeepTransitionRNN(6, 5, depth=2, skip=True, dtype=dtype, seed=3,
                                      batch_first=batch_first)]


def test_forward_and_backward_equal_the_layers_run_by_hand(rng):
    layers = _layers()
    stack = StackedRNN(layers)
    assert stack.hidden_size == 4 + 6 + 5 and stack.input_size == 3
    x = rng.standard_normal((6, 2, 3))
    lengths = np.array([6, 3])
    y, finals = stack.forward(x, lengths=lengths)
    assert y.shape == (6, 2, 15) and len(finals) == 3
    hand = _layers()
    y0, h0 = hand[0].forward(x, lengths=lengths)
    y1, h1 = hand[1].forward(y0, lengths=lengths)
    y2, h2 = hand[2].forward(y1, lengths=lengths)
    np.testing.assert_array_equal(y, np.concatenate([y0, y1, y2], axis=-1))
    np.testing.assert_array_equal(finals[2], h2)
    np.testing.assert_array_equal(finals[0][1], h0[1])
    dy = rng.standard_normal(y.shape)
    dh2 = rng.standard_normal(h2.shape)
    dx, dhx = stack.backward(dy, (None, None, dh2))
    d2, g2 = hand[2].backward(dy[..., 10:], dh2)
    d1, g1 = hand[1].backward(dy[..., 4:10] + d2)
    d0, g0 = hand[0].backward(dy[..., :4] + d1)
    np.testing.assert_array_equal(dx, d0)
    np.testing.assert_array_equal(dhx[1], g1)
    for k, layer in enumerate(hand):
        for name, g in layer.grads.items():
            np.testing.assert_array_equal(stack.grads[f"{k}.{name}"], g)


@pytest.mark.parametrize("output", ["all", "last"])
def test_gradients_match_finite_differences(output, rng):
    layers = [fastrnn.RNN(2, 3, dtype=np.float64, seed=4),
              fastrnn.LSTM(3, 2, dtype=np.float64, seed=5)]
    stack = StackedRNN(layers, output=output)
    x = rng.standard_normal((4, 2, 2))
    h0 = rng.standard_normal((1, 2, 3))
    dy = rng.standard_normal((4, 2, stack.hidden_size))
    dc = rng.standard_normal((1, 2, 2))

    def loss():
        y, finals = stack.forward(x, (h0, None))
        return float(np.sum(y * dy) + np.sum(finals[1][1] * dc))

    loss()
    stack.zero_grad()
    dx, dhx = stack.backward(dy, (None, (None, dc)))
    assert_gradients_match(loss, stack, (dx, x), (dhx[0], h0))


def test_step_follows_forward_and_batch_first(rng):
    stack = StackedRNN(_layers(np.float32, batch_first=True)[:1]
                       + [fastrnn.RNN(4, 2, seed=6, batch_first=True)])
    x = rng.standard_normal((2, 5, 3)).astype(np.float32)
    y, finals = stack.forward(x)
    assert y.shape == (2, 5, 6)
    h = None
    for t in range(5):
        y_t, h = stack.step(x[:, t], h)
        np.testing.assert_allclose(y_t, y[:, t], rtol=1e-5, atol=1e-6)


def test_save_load_round_trip(tmp_path, rng):
    stack = StackedRNN(_layers(np.float32), output="last")
    fastrnn.save(stack, tmp_path / "stack.npz")
    back = fastrnn.load(tmp_path / "stack.npz")
    assert isinstance(back, StackedRNN) and back.output == "last"
    assert [type(layer) for layer in back.layers] == [type(layer) for layer in stack.layers]
    for k, v in stack.params.items():
        np.testing.assert_array_equal(back.params[k], v)
    x = rng.standard_normal((5, 2, 3)).astype(np.float32)
    np.testing.assert_array_equal(back.forward(x)[0], stack.forward(x)[0])


def test_params_assignment_reaches_the_layer():
    stack = StackedRNN(_layers())
    stack.params["1.bias_ih_l0"] = np.ones(9)
    np.testing.assert_array_equal(stack.layers[1].params["bias_ih_l0"], 1.0)
    state = stack.state_dict()
    state["0.bias_hh_l0"] = np.full(16, 2.0)
    stack.load_state_dict(state)
    np.testing.assert_array_equal(stack.layers[0].params["bias_hh_l0"], 2.0)


def test_bad_stacks():
    with pytest.raises(TypeError, match="layers"):
        StackedRNN([])
    with pytest.raises(TypeError, match=r"layers\[1\]"):
        StackedRNN([fastrnn.RNN(2, 3), fastrnn.Linear(3, 2)])
    with pytest.raises(ValueError, match=r"layers\[1\].input_size"):
        StackedRNN([fastrnn.RNN(2, 3), fastrnn.RNN(4, 3)])
    with pytest.raises(ValueError, match="dtype"):
        StackedRNN([fastrnn.RNN(2, 3), fastrnn.RNN(3, 3, dtype=np.float64)])
    layer = fastrnn.RNN(3, 3)
    with pytest.raises(ValueError, match="distinct"):
        StackedRNN([layer, layer])
    with pytest.raises(ValueError, match="output"):
        StackedRNN([layer], output="sum")
    stack = StackedRNN([fastrnn.RNN(2, 3), fastrnn.RNN(3, 3)])
    with pytest.raises(TypeError, match="hx"):
        stack.forward(np.zeros((3, 1, 2), np.float32), np.zeros((1, 1, 3)))
    with pytest.raises(fastrnn.NotFittedError):
        stack.backward(np.zeros((3, 1, 6)))
    stack.forward(np.zeros((3, 1, 2), np.float32))
    with pytest.raises(ValueError, match="dy"):
        stack.backward(np.zeros((3, 1, 5)))
