"""fastrnn.Embedding: the lookup, its scatter-add gradient (against finite
differences, numpy.add.at and PyTorch), padding_idx, and bad input."""
import numpy as np
import pytest

import fastrnn
from gradcheck import assert_gradients_match

V, E = 7, 3


def _tokens(shape, seed=0, high=V):
    return np.random.default_rng(seed).integers(0, high, shape)


@pytest.mark.parametrize("shape", [(5, 2), (6,), (2, 3, 4), ()])
def test_forward_reads_the_rows_of_the_tokens(shape):
    emb = fastrnn.Embedding(V, E, seed=0)
    tokens = _tokens(shape)
    y = emb.forward(tokens)
    assert y.shape == np.shape(tokens) + (E,) and y.dtype == np.float32
    np.testing.assert_array_equal(y, emb.params["weight"][tokens])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("padding_idx", [None, 2])
def test_gradient_is_numpy_add_at_to_the_bit(dtype, padding_idx):
    emb = fastrnn.Embedding(V, E, padding_idx=padding_idx, dtype=dtype, seed=1)
    tokens = _tokens((9, 4), seed=2)   # many repeats, padding among them
    tokens[0, 0] = 2
    dy = np.random.default_rng(3).standard_normal((9, 4, E)).astype(dtype)
    emb.forward(tokens)
    assert emb.backward(dy) is None
    emb.forward(tokens)
    emb.backward(dy)   # accumulates until zero_grad
    want = np.zeros((V, E), dtype=dtype)
    for _ in range(2):
        np.add.at(want, tokens.ravel(), dy.reshape(-1, E))
        if padding_idx is not None:
            want[padding_idx] = 0
    np.testing.assert_array_equal(emb.grads["weight"], want)


def test_gradient_matches_finite_differences():
    emb = fastrnn.Embedding(V, E, padding_idx=4, dtype=np.float64, seed=4)
    tokens = _tokens((6, 3), seed=5)
    tokens[1, 1] = 4
    r = np.random.default_rng(6).standard_normal((6, 3, E))

    def loss():
        y = emb.forward(tokens)
        # the padding row gets no gradient: leave it out of the loss, as its
        # rows are held at zero in training
        return float(np.sum(np.where(tokens[..., None] == 4, 0, y * np.tanh(y) * r)))

    loss()
    y = emb.forward(tokens)
    dy = np.where(tokens[..., None] == 4, 0, (np.tanh(y) + y / np.cosh(y) ** 2) * r)
    emb.backward(dy)
    assert_gradients_match(loss, emb)


def test_initialisation_is_standard_normal_with_the_padding_row_zero():
    emb = fastrnn.Embedding(500, 40, padding_idx=-1, dtype=np.float64, seed=7)
    assert emb.padding_idx == 499   # counted from the end, as PyTorch does
    w = emb.params["weight"]
    assert not w[499].any()
    assert abs(w[:499].mean()) < 0.02 and abs(w[:499].std() - 1) < 0.02
    np.testing.assert_array_equal(fastrnn.Embedding(500, 40, padding_idx=-1, dtype=np.float64,
                                                    seed=7).params["weight"], w)


def test_save_and_load_round_trip(tmp_path):
    emb = fastrnn.Embedding(V, E, padding_idx=1, dtype=np.float64, seed=8)
    fastrnn.save(emb, tmp_path / "e.npz")
    back = fastrnn.load(tmp_path / "e.npz")
    assert type(back) is fastrnn.Embedding and back.padding_idx == 1
    tokens = _tokens((4, 2), seed=9)
    np.testing.assert_array_equal(back.forward(tokens), emb.forward(tokens))


@pytest.mark.parametrize("tokens,error,match", [
    (np.array([[0.0, 1.0]]), TypeError, "tokens must be an array of integer"),
    (np.array([True, False]), TypeError, "integer"),
    (np.array([[0, 7]]), ValueError, r"tokens must be token ids in \[0, 7\)"),
    (np.array([-1, 2]), ValueError, r"\[0, 7\).*from -1 to 2"),
    ("abc", TypeError, "tokens"),
])
def test_bad_tokens_are_refused(tokens, error, match):
    with pytest.raises(error, match=match):
        fastrnn.Embedding(V, E, seed=0).forward(tokens)


@pytest.mark.parametrize("kwargs,error,match", [
    (dict(padding_idx=7), ValueError, "padding_idx"),
    (dict(padding_idx=-8), ValueError, "padding_idx"),
    (dict(padding_idx=1.5), TypeError, "padding_idx"),
    (dict(dtype=np.int32), (TypeError, ValueError), "dtype"),
])
def test_bad_configuration_is_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        fastrnn.Embedding(V, E, **kwargs)


def test_backward_checks_its_input():
    emb = fastrnn.Embedding(V, E, seed=0)
    with pytest.raises(fastrnn.NotFittedError):
        emb.backward(np.zeros((2, E)))
    emb.forward([1, 2])
    with pytest.raises(ValueError, match="dy must have shape"):
        emb.backward(np.zeros((3, E)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_agrees_with_torch(dtype):
    torch = pytest.importorskip("torch")
    tdt = torch.float64 if dtype == np.float64 else torch.float32
    torch.manual_seed(0)
    module = torch.nn.Embedding(V, E, padding_idx=3, dtype=tdt)
    emb = fastrnn.Embedding.from_torch(module)
    assert emb.padding_idx == 3 and emb.dtype == dtype
    tokens = _tokens((5, 4), seed=10)
    tokens[0] = 3
    dy = np.random.default_rng(11).standard_normal((5, 4, E)).astype(dtype)
    y = emb.forward(tokens)
    emb.backward(dy)
    ty = module(torch.from_numpy(tokens))
    ty.backward(torch.from_numpy(dy))
    np.testing.assert_array_equal(y, ty.detach().numpy())
    tol = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(emb.grads["weight"], module.weight.grad.numpy(), rtol=0, atol=tol)
    back = emb.to_torch()
    assert back.padding_idx == 3
    np.testing.assert_array_equal(back.weight.detach().numpy(), emb.params["weight"])
