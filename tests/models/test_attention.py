"""fastrnn.Attention: forward against a plain NumPy implementation and
PyTorch, backward against finite differences (float64) and PyTorch's
autograd, the masking of source positions, and bad input."""
import numpy as np
import pytest

import fastrnn
from fastrnn.models.attention import Attention
from gradcheck import assert_gradients_match, numerical_grad, rel_error


def reference_attention(params, score, queries, keys, lengths):
    """Luong et al. (2015) global attention, one (t, b) at a time:
    (outputs (T, B, Hq), weights (T, B, S))."""
    T, B, Hq = queries.shape
    S = keys.shape[0]
    out = np.zeros((T, B, Hq))
    weights = np.zeros((T, B, S))
    for b in range(B):
        n = lengths[b]
        for t in range(T):
            s = queries[t, b]
            e = np.empty(n)
            for i in range(n):
                h = keys[i, b]
                if score == "dot":
                    e[i] = s @ h / np.sqrt(Hq)
                else:
                    e[i] = params["score_weight"] @ np.tanh(params["query_weight"] @ s
                                                           + params["key_weight"] @ h)
            a = np.exp(e - e.max())
            a /= a.sum()
            weights[t, b, :n] = a
            c = a @ keys[:n, b]
            out[t, b] = np.tanh(params["output_weight"] @ np.concatenate([c, s]))
    return out, weights


def _case(score, dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    T, S, B, Hq = 4, 5, 3, 6
    Hk = Hq if score == "dot" else 7
    att = Attention(Hq, Hk, score=score, attention_size=None if score == "dot" else 5,
                    dtype=dtype, seed=seed)
    queries = rng.standard_normal((T, B, Hq)).astype(dtype)
    keys = rng.standard_normal((S, B, Hk)).astype(dtype)
    lengths = np.array([5, 2, 3])
    return att, queries, keys, lengths


@pytest.mark.parametrize("score", ["additive", "dot"])
def test_forward_matches_numpy_reference(score):
    att, q, k, lengths = _case(score)
    out = att.forward(q, k, lengths)
    ref_out, ref_w = reference_attention(att.params, score, q, k, lengths)
    assert rel_error(out, ref_out) < 1e-13
    assert rel_error(att.attention_weights_, ref_w) < 1e-13
    assert att.attention_weights_.shape == (4, 3, 5)
    # no weight past a source's length, and each row a distribution
    assert np.all(att.attention_weights_[:, 1, 2:] == 0)
    np.testing.assert_allclose(att.attention_weights_.sum(-1), 1.0, rtol=1e-14)


@pytest.mark.parametrize("score", ["additive", "dot"])
def test_gradients_match_finite_differences(score):
    att, q, k, lengths = _case(score)
    w = np.random.default_rng(1).standard_normal((4, 3, 6))

    def loss():
        return float((att.forward(q, k, lengths) * w).sum())

    att.forward(q, k, lengths)
    att.zero_grad()
    dq, dk = att.backward(w)
    assert_gradients_match(loss, att, (dq, q), (dk, k))


def test_padded_keys_get_no_gradient_and_change_nothing():
    att, q, k, lengths = _case("additive")
    out = att.forward(q, k, lengths)
    k2 = k.copy()
    k2[2:, 1] = 1e3   # past row 1's length
    np.testing.assert_array_equal(att.forward(q, k2, lengths), out)
    _, dk = att.backward(np.ones_like(out))
    assert np.all(dk[2:, 1] == 0) and np.all(dk[3:, 2] == 0)


def test_float32_close_to_float64():
    att64, q, k, lengths = _case("additive")
    att32 = Attention(6, 7, score="additive", attention_size=5, dtype=np.float32)
    att32.params = att64.params
    out32 = att32.forward(q.astype(np.float32), k.astype(np.float32), lengths)
    assert out32.dtype == np.float32
    assert rel_error(out32, att64.forward(q, k, lengths)) < 1e-5


@pytest.mark.parametrize("score", ["additive", "dot"])
def test_matches_torch(score):
    torch = pytest.importorskip("torch")
    att, q, k, lengths = _case(score)
    out = att.forward(q, k, lengths)
    dout = np.random.default_rng(2).standard_normal(out.shape)
    att.zero_grad()
    dq, dk = att.backward(dout)
    P = {n: torch.tensor(v, requires_grad=True) for n, v in att.params.items()}
    tq = torch.tensor(q, requires_grad=True)
    tk = torch.tensor(k, requires_grad=True)
    S = k.shape[0]
    mask = torch.arange(S)[None, :] < torch.tensor(lengths)[:, None]          # (B, S)
    Q, K = tq.transpose(0, 1), tk.transpose(0, 1)                             # (B, T, H)
    if score == "dot":
        e = Q @ K.transpose(1, 2) / np.sqrt(q.shape[2])
    else:
        e = torch.tanh((Q @ P["query_weight"].T)[:, :, None, :]
                       + (K @ P["key_weight"].T)[:, None, :, :]) @ P["score_weight"]
    e = e.masked_fill(~mask[:, None, :], float("-inf"))
    alpha = torch.softmax(e, dim=-1)
    c = alpha @ K
    ref = torch.tanh(torch.cat([c, Q], dim=-1) @ P["output_weight"].T).transpose(0, 1)
    (ref * torch.tensor(dout)).sum().backward()
    assert rel_error(out, ref.detach().numpy()) < 1e-12
    assert rel_error(att.attention_weights_, alpha.detach().transpose(0, 1).numpy()) < 1e-12
    assert rel_error(dq, tq.grad.numpy()) < 1e-10
    assert rel_error(dk, tk.grad.numpy()) < 1e-10
    for n, p in P.items():
        assert rel_error(att.grads[n], p.grad.numpy()) < 1e-10, n


def test_bad_input_is_refused():
    att, q, k, lengths = _case("additive")
    with pytest.raises(ValueError, match="query_size"):
        att.forward(q[:, :, :3], k, lengths)
    with pytest.raises(ValueError, match="keys must be"):
        att.forward(q, k[:, :2], lengths)
    with pytest.raises(ValueError, match=r"key_lengths must be in \[1, 5\]"):
        att.forward(q, k, np.array([5, 0, 3]))
    with pytest.raises(ValueError, match=r"key_lengths must be in \[1, 5\]"):
        att.forward(q, k, np.array([6, 1, 3]))
    with pytest.raises(TypeError, match="key_lengths must be integers"):
        att.forward(q, k, np.array([5.0, 1, 3]))
    with pytest.raises(ValueError, match="key_size"):
        Attention(6, 7, score="dot")
    with pytest.raises(ValueError, match="score must be one of"):
        Attention(6, 6, score="general")
    with pytest.raises(fastrnn.NotFittedError):
        Attention(6, 6).backward(np.zeros((1, 1, 6)))
    with pytest.raises(ValueError, match="dout"):
        att.forward(q, k, lengths)
        att.backward(np.zeros((4, 3, 5)))


def test_save_load_bit_exact(tmp_path):
    att, q, k, lengths = _case("additive", dtype=np.float32)
    path = tmp_path / "attention.npz"
    fastrnn.save(att, path)
    back = fastrnn.load(path)
    assert isinstance(back, Attention) and back.score == "additive"
    np.testing.assert_array_equal(back.forward(q, k, lengths), att.forward(q, k, lengths))
