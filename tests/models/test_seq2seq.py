"""Context conditioning (fastrnn.ContextRNN and the per-row input term of
the recurrent sweep) and the encoder-decoder fastrnn.Seq2Seq: outputs
against a plain NumPy model, gradients against finite differences (float64)
and PyTorch, persistence, bad input."""
import numpy as np
import pytest

import fastrnn
from fastrnn.models.context import ContextRNN
from gradcheck import assert_gradients_match, numerical_grad, rel_error

CELLS = {"RNN": fastrnn.RNN, "LSTM": fastrnn.LSTM, "GRU": fastrnn.GRU}


# ------------------------------------------------------------ the hook
@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("bidirectional", [False, True])
def test_input_term_equals_concatenated_context(cell, bidirectional):
    # R x added once per sequence is the same model as x appended to every
    # input with R as extra columns of W_ih (figure 10.10); ragged lengths.
    rng = np.random.default_rng(3)
    T, B, D, H, C = 5, 3, 4, 6, 2
    small = CELLS[cell](D, H, bidirectional=bidirectional, dtype=np.float64, seed=1)
    wide = CELLS[cell](D + C, H, bidirectional=bidirectional, dtype=np.float64, seed=1)
    ND, GH = small.num_directions, small._gates * H
    R = rng.standard_normal((ND, GH, C))
    for name, value in small.params.items():
        if name.startswith("weight_ih_l0"):
            wide.params[name] = np.concatenate([value, R[int(name.endswith("_reverse"))]], axis=1)
        else:
            wide.params[name] = value
    x = rng.standard_normal((T, B, D))
    context = rng.standard_normal((B, C))
    lengths = np.array([5, 2, 4])
    x_wide = np.concatenate([x, np.broadcast_to(context, (T, B, C))], axis=2)
    y, h_n = small._forward(x, None, lengths, input_terms=context @ R.transpose(0, 2, 1))
    y_wide, h_wide = wide.forward(x_wide, None, lengths)
    assert rel_error(y, y_wide) < 1e-13
    dy = rng.standard_normal(y.shape)
    dx, _ = small.backward(dy)
    dx_wide, _ = wide.backward(dy)
    d_terms = small._cache["input_term_grads"]
    d_context = np.einsum("dbg,dgc->bc", d_terms, R)
    assert rel_error(d_context, dx_wide[:, :, D:].sum(axis=0)) < 1e-12
    assert rel_error(dx, dx_wide[:, :, :D]) < 1e-12
    for name in small.params:
        if not name.startswith("weight_ih_l0"):
            assert rel_error(small.grads[name], wide.grads[name]) < 1e-12, name


@pytest.mark.parametrize("cell", ["RNN", "LSTM", "GRU", "GRU-before"])
def test_input_term_engine_agrees_with_blas_loop(cell):
    # The gated-cell engine adds row r's term in its projection as the BLAS
    # loop does (other summation order: a few ulp), on 1 and 2 threads.
    layer = (fastrnn.GRU(5, 19, reset_after=False, dtype=np.float64, seed=0)
             if cell == "GRU-before" else CELLS[cell](5, 19, dtype=np.float64, seed=0))
    rng = np.random.default_rng(7)
    T, B = 6, 4
    x = rng.standard_normal((T, B, 5))
    term = rng.standard_normal((B, layer._gates * 19))
    zeros = np.zeros((B, 19))
    runs = {}
    for threads in (0, 1, 2):
        hs, cs, buffers, used = layer._sweep(0, "", x, zeros, zeros, np.full(T, B, np.int32),
                                             np.zeros, threads=threads, step_threads=1,
                                             row_term=term)
        assert (used == 0) == (threads == 0)   # the engine took the row term
        runs[threads] = hs
    np.testing.assert_allclose(runs[1], runs[0], rtol=1e-13, atol=1e-14)
    assert runs[2].tobytes() == runs[1].tobytes()


def test_default_path_unchanged():
    # no term: the layer's numbers are those of a plain forward, bit for bit
    rng = np.random.default_rng(0)
    lstm = fastrnn.LSTM(3, 5, seed=0)
    x = rng.standard_normal((6, 4, 3)).astype(np.float32)
    y1, _ = lstm.forward(x)
    y2, _ = lstm._forward(x, None, None, input_terms=None)
    np.testing.assert_array_equal(y1, y2)


# ---------------------------------------------------------- ContextRNN
def reference_context_rnn(model, x, context):
    """A tanh RNN conditioned as ContextRNN does, step by step in NumPy."""
    p = model.params
    h = np.tanh(context @ p["initial.weight"].T + p["initial.bias"])
    term = context @ p["step.weight"].T
    ys = []
    for x_t in x:
        h = np.tanh(x_t @ p["recurrent.weight_ih_l0"].T + p["recurrent.bias_ih_l0"] + term
                    + h @ p["recurrent.weight_hh_l0"].T + p["recurrent.bias_hh_l0"])
        ys.append(h)
    return np.stack(ys)


def test_context_rnn_matches_numpy_reference():
    rng = np.random.default_rng(4)
    model = ContextRNN(fastrnn.RNN(3, 5, dtype=np.float64, seed=0), 4, seed=1)
    x = rng.standard_normal((6, 2, 3))
    context = rng.standard_normal((2, 4))
    y, h_n = model.forward(x, context)
    ref = reference_context_rnn(model, x, context)
    assert rel_error(y, ref) < 1e-13
    assert rel_error(h_n[0], ref[-1]) < 1e-13


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("options", [dict(), dict(initial_state=False),
                                     dict(step_input=False), dict(num_layers=2),
                                     dict(bidirectional=True)])
def test_context_rnn_gradients(cell, options):
    rng = np.random.default_rng(5)
    layer_options = {k: options.pop(k) for k in ("num_layers", "bidirectional") if k in options}
    layer = CELLS[cell](3, 4, dtype=np.float64, seed=0, **layer_options)
    model = ContextRNN(layer, 2, seed=1, **options)
    x = rng.standard_normal((5, 3, 3))
    context = rng.standard_normal((3, 2))
    lengths = np.array([5, 3, 1])
    y, _ = model.forward(x, context, lengths)
    w = rng.standard_normal(y.shape)

    def loss():
        return float((model.forward(x, context, lengths)[0] * w).sum())

    model.zero_grad()
    model.forward(x, context, lengths)
    dx, d_context = model.backward(w)
    assert_gradients_match(loss, model, (dx, x), (d_context, context))


def test_context_rnn_unbatched_and_zero_context():
    model = ContextRNN(fastrnn.GRU(3, 4, dtype=np.float64, seed=0), 2, seed=1)
    x = np.random.default_rng(0).standard_normal((5, 3))
    context = np.array([0.3, -0.2])
    y, _ = model.forward(x, context)
    dx, dc = model.backward(np.ones_like(y))
    assert dx.shape == (5, 3) and dc.shape == (2,)
    y_batched, _ = model.forward(x[:, None], context[None])
    np.testing.assert_allclose(y, y_batched[:, 0], rtol=1e-14)
    _, dc_batched = model.backward(np.ones_like(y_batched))
    np.testing.assert_allclose(dc, dc_batched[0], rtol=1e-14)
    y0, _ = model.forward(x[:, None])
    y00, _ = model.forward(x[:, None], np.zeros((1, 2)))
    np.testing.assert_array_equal(y0, y00)


def test_context_rnn_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(6)
    model = ContextRNN(fastrnn.LSTM(3, 4, dtype=np.float64, seed=0), 2, seed=1)
    x = rng.standard_normal((5, 2, 3))
    context = rng.standard_normal((2, 2))
    y, _ = model.forward(x, context)
    dy = rng.standard_normal(y.shape)
    model.zero_grad()
    _, d_context = model.backward(dy)
    lstm = model.recurrent.to_torch()
    p = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()
         if not k.startswith("recurrent.")}
    tc = torch.tensor(context, requires_grad=True)
    h0 = torch.tanh(tc @ p["initial.weight"].T + p["initial.bias"])[None]
    term = tc @ p["step.weight"].T
    # the term enters as the input projection of a constant extra input
    with torch.no_grad():
        lstm.bias_ih_l0.zero_()
    bias = torch.tensor(model.params["recurrent.bias_ih_l0"])
    xs = torch.tensor(x)
    h, c = h0, torch.zeros_like(h0)
    ys = []
    w_ih, w_hh, b_hh = lstm.weight_ih_l0, lstm.weight_hh_l0, lstm.bias_hh_l0
    for t in range(x.shape[0]):
        g = xs[t] @ w_ih.T + bias + term + h[0] @ w_hh.T + b_hh
        i, f, gg, o = g.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
        h = (torch.sigmoid(o) * torch.tanh(c))
        ys.append(h[0] if h.dim() == 3 else h)
        h = h if h.dim() == 3 else h[None]
    ref = torch.stack(ys)
    (ref * torch.tensor(dy)).sum().backward()
    assert rel_error(y, ref.detach().numpy()) < 1e-12
    assert rel_error(d_context, tc.grad.numpy()) < 1e-10
    for k, v in p.items():
        assert rel_error(model.grads[k], v.grad.numpy()) < 1e-10, k


def test_context_rnn_save_load_and_errors(tmp_path):
    model = ContextRNN(fastrnn.LSTM(3, 4, num_layers=2, seed=0), 2, seed=1)
    x = np.random.default_rng(0).standard_normal((5, 2, 3)).astype(np.float32)
    context = np.ones((2, 2), np.float32)
    fastrnn.save(model, tmp_path / "c.npz")
    back = fastrnn.load(tmp_path / "c.npz")
    np.testing.assert_array_equal(back.forward(x, context)[0], model.forward(x, context)[0])
    with pytest.raises(ValueError, match="context"):
        model.forward(x, np.ones((3, 2)))
    with pytest.raises(TypeError, match="RNN, LSTM or GRU"):
        ContextRNN(fastrnn.LeakyRNN(3, 4), 2)
    with pytest.raises(ValueError, match="both be False"):
        ContextRNN(fastrnn.RNN(3, 4), 2, initial_state=False, step_input=False)
    with pytest.raises(fastrnn.NotFittedError):
        ContextRNN(fastrnn.RNN(3, 4), 2).backward(np.zeros((1, 1, 4)))


# ------------------------------------------------------------- Seq2Seq
def _seq2seq(attention, cell="LSTM", bidirectional=False, dtype=np.float64, seed=0):
    E, H, V_src, V = 3, 4, 5, 6
    enc_rnn = CELLS[cell](E, H, bidirectional=bidirectional, dtype=dtype, seed=seed)
    encoder = fastrnn.Sequential(fastrnn.Embedding(V_src, E, dtype=dtype, seed=seed + 1),
                                 enc_rnn)
    H_dec = H * enc_rnn.num_directions if attention == "dot" else 5
    decoder = fastrnn.Sequential(fastrnn.Embedding(V, E, dtype=dtype, seed=seed + 2),
                                 CELLS[cell](E, H_dec, dtype=dtype, seed=seed + 3),
                                 fastrnn.Linear(H_dec, V, dtype=dtype, seed=seed + 4))
    return fastrnn.Seq2Seq(encoder, decoder, attention=attention, start_token=0, seed=seed + 5)


def _batch(seed=0):
    rng = np.random.default_rng(seed)
    S, T, B = 4, 3, 3
    source = rng.integers(0, 5, (S, B))
    target = rng.integers(1, 6, (T, B))
    target_in = np.concatenate([np.zeros((1, B), int), target[:-1]])
    return source, target_in, target, np.array([4, 2, 3]), np.array([3, 3, 1])


def _assert_seq2seq_gradients(model, batch_seed, weight_seed):
    """Every parameter's gradient of a weighted sum of the valid logits of
    a ragged batch against finite differences."""
    source, target_in, _, s_len, t_len = _batch(batch_seed)
    w = np.random.default_rng(weight_seed).standard_normal((3, 3, 6))
    valid = (np.arange(3)[:, None] < t_len[None, :])[:, :, None]

    def loss():
        return float((model.forward(source, target_in, s_len, t_len) * w * valid).sum())

    model.zero_grad()
    model.forward(source, target_in, s_len, t_len)
    assert model.backward(w * valid) is None   # token sources have no gradient
    for name, p in model.params.items():
        # The additive score's weights get gradients near 1e-5 (small decoder
        # states), where eps = 1e-6 leaves ~1e-10 of rounding in the
        # differences: a larger step for them.
        eps = 1e-4 if name.startswith("attention.") else 1e-6
        assert rel_error(model.grads[name], numerical_grad(loss, p, eps)) < 1e-6, name


@pytest.mark.parametrize("attention,cell,bidirectional", [
    (None, "LSTM", False), ("additive", "GRU", True), ("dot", "RNN", False),
    ("additive", "LSTM", False)])
def test_seq2seq_gradients_through_both(attention, cell, bidirectional):
    model = _seq2seq(attention, cell, bidirectional)
    _assert_seq2seq_gradients(model, 0, 1)
    if attention is not None:
        assert model.attention.attention_weights_.shape == (3, 3, 4)
        assert np.all(model.attention.attention_weights_[:, 1, 2:] == 0)


def test_seq2seq_matches_torch():
    torch = pytest.importorskip("torch")
    model = _seq2seq("additive", "LSTM")
    source, target_in, target, _, _ = _batch()
    logits = model.forward(source, target_in)
    dlogits = np.random.default_rng(2).standard_normal(logits.shape)
    model.zero_grad()
    model.backward(dlogits)
    P = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}

    def lstm(x, prefix, h, c, extra=None):
        w_ih = P[prefix + "weight_ih_l0"]
        ys = []
        for t in range(x.shape[0]):
            g = (x[t] @ w_ih.T + P[prefix + "bias_ih_l0"] + h @ P[prefix + "weight_hh_l0"].T
                 + P[prefix + "bias_hh_l0"] + (0 if extra is None else extra))
            i, f, gg, o = g.chunk(4, dim=1)
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(gg)
            h = torch.sigmoid(o) * torch.tanh(c)
            ys.append(h)
        return torch.stack(ys), h

    src_emb = P["encoder.0.weight"][torch.tensor(source)]
    zeros = torch.zeros(3, 4, dtype=torch.float64)
    keys, summary = lstm(src_emb, "encoder.1.", zeros, zeros)
    h0 = torch.tanh(summary @ P["context_initial.weight"].T + P["context_initial.bias"])
    term = summary @ P["context_step.weight"].T
    dec_emb = P["decoder.0.weight"][torch.tensor(target_in)]
    s, _ = lstm(dec_emb, "decoder.1.", h0, torch.zeros_like(h0), extra=term)
    Q, K = s.transpose(0, 1), keys.transpose(0, 1)
    e = torch.tanh((Q @ P["attention.query_weight"].T)[:, :, None]
                   + (K @ P["attention.key_weight"].T)[:, None]) @ P["attention.score_weight"]
    a = torch.tanh(torch.cat([torch.softmax(e, -1) @ K, Q], -1) @ P["attention.output_weight"].T)
    ref = a.transpose(0, 1) @ P["decoder.2.weight"].T + P["decoder.2.bias"]
    (ref * torch.tensor(dlogits)).sum().backward()
    assert rel_error(logits, ref.detach().numpy()) < 1e-12
    for k, v in P.items():
        assert rel_error(model.grads[k], v.grad.numpy()) < 1e-10, k


def test_seq2seq_fit_learns_and_saves_bit_exact(tmp_path):
    model = _seq2seq("additive", "GRU", dtype=np.float32)
    rng = np.random.default_rng(0)
    source = rng.integers(0, 5, (4, 40))
    target = source[::-1] + 1          # reverse and shift into the target vocabulary
    history = model.fit(source, target, epochs=15, batch_size=8, seed=0, progress=False,
                        optimizer=fastrnn.Adam(model, lr=1e-2))
    assert history["loss"][-1] < 0.7 * history["loss"][0]
    path = tmp_path / "s2s.npz"
    fastrnn.save(model, path)
    back = fastrnn.load(path)
    assert isinstance(back, fastrnn.Seq2Seq) and back.attention.score == "additive"
    target_in = np.concatenate([np.zeros((1, 40), int), target[:-1]])
    np.testing.assert_array_equal(back.forward(source, target_in),
                                  model.forward(source, target_in))
    assert sorted(back.params) == sorted(model.params)


def test_seq2seq_bad_input():
    model = _seq2seq(None)
    source, target_in, _, _, _ = _batch()
    with pytest.raises(ValueError, match="target_in must be"):
        model.forward(source, target_in[:, :2])
    with pytest.raises(ValueError, match="token ids"):
        model.forward(source, target_in + 10)
    with pytest.raises(TypeError, match="decoder must be a fastrnn.Sequential"):
        fastrnn.Seq2Seq(model.encoder, fastrnn.LSTM(3, 4))
    with pytest.raises(ValueError, match="output layer"):
        fastrnn.Seq2Seq(model.encoder, fastrnn.Sequential(fastrnn.Embedding(6, 3),
                                                          fastrnn.LSTM(3, 4)))
    with pytest.raises(ValueError, match="bidirectional"):
        fastrnn.Seq2Seq(model.encoder, fastrnn.Sequential(
            fastrnn.Embedding(6, 3), fastrnn.LSTM(3, 4, bidirectional=True),
            fastrnn.Linear(8, 6)))
    with pytest.raises(ValueError, match="start_token"):
        fastrnn.Seq2Seq(model.encoder, model.decoder, start_token=6)
    with pytest.raises(ValueError, match="attention must be"):
        fastrnn.Seq2Seq(model.encoder, model.decoder, attention="general")
    with pytest.raises(fastrnn.NotFittedError):
        _seq2seq(None).backward(np.zeros((3, 3, 6)))
    with pytest.raises(ValueError, match="sources must be"):
        model.fit(source[:, :2], np.ones((3, 3), int), progress=False)
    with pytest.raises(ValueError, match="target_lengths"):
        model.fit(source, np.ones((3, 3), int), target_lengths=[0, 1, 1], progress=False)


# ---------------------------------------------------------- generation
def _greedy_by_teacher_forcing(model, source, s_len, steps):
    """Greedy decoding the slow way: the whole prefix through forward at
    every step, the argmax of the last step appended."""
    B = source.shape[1]
    tokens = np.full((1, B), model.start_token)
    for _ in range(steps):
        logits = model.forward(source, tokens, s_len)
        tokens = np.concatenate([tokens, logits[-1].argmax(-1)[None]])
    return tokens[1:]


@pytest.mark.parametrize("attention,cell", [(None, "LSTM"), ("additive", "GRU"),
                                            ("dot", "RNN"), ("additive", "LSTM")])
def test_generate_greedy_matches_teacher_forced_argmax(attention, cell):
    model = _seq2seq(attention, cell)
    source, _, _, s_len, _ = _batch()
    out = model.generate(source, source_lengths=s_len, max_length=5)
    ref = _greedy_by_teacher_forcing(model, source, s_len, 5)
    assert len(out) == 3
    for b in range(3):
        np.testing.assert_array_equal(out[b], ref[:, b])
    # the attention read of each step is the teacher-forced forward's
    if attention is not None:
        model.forward(source, np.concatenate([np.full((1, 3), 0), ref[:-1]]), s_len)
        weights = model.attention.attention_weights_
        assert np.all(weights[:, 1, 2:] == 0)


def test_generate_stops_at_end_token_beam_and_sample():
    model = _seq2seq("additive", "LSTM")
    source, _, _, s_len, _ = _batch()
    greedy = model.generate(source, source_lengths=s_len, max_length=6)
    end = int(greedy[0][1])   # row 0 ends at its first greedy token equal to this one
    stop = int(np.flatnonzero(greedy[0] == end)[0]) + 1
    out = model.generate(source, source_lengths=s_len, max_length=6, end_token=end)
    np.testing.assert_array_equal(out[0], greedy[0][:stop])
    beam1 = model.generate(source, source_lengths=s_len, max_length=6, method="beam",
                           beam_width=1)
    for a, b in zip(beam1, greedy):
        np.testing.assert_array_equal(a, b)
    s1 = model.generate(source, source_lengths=s_len, max_length=6, method="sample", seed=3)
    s2 = model.generate(source, source_lengths=s_len, max_length=6, method="sample", seed=3)
    for a, b in zip(s1, s2):
        np.testing.assert_array_equal(a, b)
    assert model.training   # modes restored
    with pytest.raises(ValueError, match="max_length"):
        model.generate(source, max_length=0)


def test_seq2seq_float_source_and_stacked_encoder_gradients():
    # A lone recurrent layer over real-valued sources (dsource returned), and
    # an encoder of two recurrent layers (the summary from the last one).
    rng = np.random.default_rng(8)
    dt = np.float64
    decoder = fastrnn.Sequential(fastrnn.Embedding(6, 3, dtype=dt, seed=1),
                                 fastrnn.GRU(3, 4, dtype=dt, seed=2),
                                 fastrnn.Linear(4, 6, dtype=dt, seed=3))
    bare = fastrnn.Seq2Seq(fastrnn.LSTM(2, 4, dtype=dt, seed=4), decoder, attention="dot",
                           seed=5)
    source = rng.standard_normal((4, 3, 2))
    target_in = rng.integers(0, 6, (3, 3))
    w = rng.standard_normal((3, 3, 6))
    bare.forward(source, target_in)
    bare.zero_grad()
    d_source = bare.backward(w)
    assert_gradients_match(lambda: float((bare.forward(source, target_in) * w).sum()), None,
                           (d_source, source))
    stacked = fastrnn.Seq2Seq(
        fastrnn.Sequential(fastrnn.Embedding(5, 3, dtype=dt, seed=6),
                           fastrnn.LSTM(3, 4, dtype=dt, seed=7), fastrnn.Dropout(0.0),
                           fastrnn.RNN(4, 3, num_layers=2, dtype=dt, seed=8)),
        decoder, seed=9)
    tokens = rng.integers(0, 5, (4, 3))
    stacked.forward(tokens, target_in, [4, 1, 3])
    stacked.zero_grad()
    stacked.backward(w)

    def loss():
        return float((stacked.forward(tokens, target_in, [4, 1, 3]) * w).sum())

    for name in ("encoder.1.weight_hh_l0", "encoder.3.weight_ih_l1", "context_step.weight"):
        p = stacked.params[name]
        assert rel_error(stacked.grads[name], numerical_grad(loss, p)) < 1e-6, name


# -------------------------------------------------- a decoder of several layers
def _deep_seq2seq(cell="LSTM", attention=None, dtype=np.float64, layers=2):
    """Encoder and decoder of ``layers`` stacked layers (one layer object
    with num_layers each), the decoder of another hidden size."""
    E, H, H_dec, V_src, V = 3, 4, 5, 5, 6
    encoder = fastrnn.Sequential(fastrnn.Embedding(V_src, E, dtype=dtype, seed=11),
                                 CELLS[cell](E, H, num_layers=layers, dtype=dtype, seed=12))
    decoder = fastrnn.Sequential(fastrnn.Embedding(V, E, dtype=dtype, seed=13),
                                 CELLS[cell](E, H_dec, num_layers=layers, dtype=dtype,
                                             seed=14),
                                 fastrnn.Linear(H_dec, V, dtype=dtype, seed=15))
    return fastrnn.Seq2Seq(encoder, decoder, attention=attention, seed=16)


def _numpy_deep_logits(model, source, target_in):
    """The deep LSTM encoder-decoder without attention, in NumPy from the
    equations (tests/reference.py's cell): the summary C is the top encoder
    layer's final h; decoder layer k starts from h_k = tanh(rows k*H..(k+1)*H
    of W_c C + b_c), c_k = 0; R C joins the first layer's gates at every
    step."""
    from reference import lstm_forward
    p = {k: np.asarray(v, np.float64) for k, v in model.params.items()}

    def stack(x, prefix, L, h0s):
        for k in range(L):
            w_ih = p[f"{prefix}weight_ih_l{k}"]
            b_ih = p[f"{prefix}bias_ih_l{k}"] + (term if prefix == "decoder.1." and k == 0
                                                  else 0)
            hs, _ = lstm_forward(x, w_ih, p[f"{prefix}weight_hh_l{k}"], b_ih,
                                 p[f"{prefix}bias_hh_l{k}"], h0s[k], np.zeros_like(h0s[k]))
            x = hs[1:]
        return x

    L, B = model.decoder.layers[1].num_layers, source.shape[1]
    term = 0
    keys = stack(p["encoder.0.weight"][source], "encoder.1.", L, [np.zeros((B, 4))] * L)
    summary = keys[-1]
    term = summary @ p["context_step.weight"].T
    h0 = np.tanh(summary @ p["context_initial.weight"].T + p["context_initial.bias"])
    H = model.decoder.layers[1].hidden_size
    top = stack(p["decoder.0.weight"][target_in], "decoder.1.", L,
                [h0[:, k * H:(k + 1) * H] for k in range(L)])
    return top @ p["decoder.2.weight"].T + p["decoder.2.bias"]


def test_deep_decoder_matches_numpy():
    model = _deep_seq2seq()
    source, target_in, _, _, _ = _batch()
    assert rel_error(model.forward(source, target_in),
                     _numpy_deep_logits(model, source, target_in)) < 1e-13


@pytest.mark.parametrize("cell,attention,layers", [("LSTM", None, 2), ("GRU", "additive", 3),
                                                   ("RNN", "dot", 2)])
def test_deep_decoder_gradients(cell, attention, layers):
    if attention == "dot":   # dot scores need H_dec == the encoder's width
        encoder = _deep_seq2seq(cell, None, layers=layers).encoder
        model = fastrnn.Seq2Seq(encoder, fastrnn.Sequential(
            fastrnn.Embedding(6, 3, dtype=np.float64, seed=1),
            fastrnn.RNN(3, 4, num_layers=2, dtype=np.float64, seed=2),
            fastrnn.Linear(4, 6, dtype=np.float64, seed=3)), attention="dot", seed=4)
    else:
        model = _deep_seq2seq(cell, attention, layers=layers)
    _assert_seq2seq_gradients(model, 1, 3)


def test_deep_decoder_matches_torch():
    """torch.nn.LSTM stacks as the reference: the per-step term R C as the
    extra input columns of the first layer (the context appended to every
    input, figure 10.10), the projected summary as h_0 of every layer."""
    torch = pytest.importorskip("torch")
    model = _deep_seq2seq()
    source, target_in, _, _, _ = _batch(2)
    logits = model.forward(source, target_in)
    dlogits = np.random.default_rng(4).standard_normal(logits.shape)
    model.zero_grad()
    model.backward(dlogits)
    P = {k: torch.tensor(v, requires_grad=True) for k, v in model.params.items()}
    enc, dec = torch.nn.LSTM(3, 4, num_layers=2).double(), torch.nn.LSTM(3 + 4, 5, 2).double()
    for module, prefix in ((enc, "encoder.1."), (dec, "decoder.1.")):
        for name in dict(module.named_parameters()):
            value = P[prefix + name]
            if module is dec and name == "weight_ih_l0":
                value = torch.cat([value, P["context_step.weight"]], dim=1)
            setattr(module, name, torch.nn.Parameter(value.detach().clone()))
    keys, (h_n, _) = enc(P["encoder.0.weight"][torch.tensor(source)])
    summary = h_n[-1]
    h0 = torch.tanh(summary @ P["context_initial.weight"].T + P["context_initial.bias"])
    h0 = h0.reshape(3, 2, 5).transpose(0, 1).contiguous()
    x = P["decoder.0.weight"][torch.tensor(target_in)]
    x = torch.cat([x, summary.expand(x.shape[0], -1, -1)], dim=2)
    top, _ = dec(x, (h0, torch.zeros_like(h0)))
    ref = top @ P["decoder.2.weight"].T + P["decoder.2.bias"]
    (ref * torch.tensor(dlogits)).sum().backward()
    assert rel_error(logits, ref.detach().numpy()) < 1e-12
    want = {k: v.grad.numpy() for k, v in P.items() if v.grad is not None}
    for module, prefix in ((enc, "encoder.1."), (dec, "decoder.1.")):
        for name, value in module.named_parameters():
            want[prefix + name] = value.grad.numpy()
    want["decoder.1.weight_ih_l0"], want["context_step.weight"] = np.split(
        want["decoder.1.weight_ih_l0"], [3], axis=1)
    assert sorted(want) == sorted(model.params)
    for name, g in want.items():
        assert rel_error(model.grads[name], g) < 1e-10, name


@pytest.mark.parametrize("attention,cell", [(None, "LSTM"), ("additive", "GRU")])
def test_deep_decoder_generates_and_round_trips(attention, cell, tmp_path):
    model = _deep_seq2seq(cell, attention, dtype=np.float32)
    source, _, _, s_len, _ = _batch()
    greedy = model.generate(source, source_lengths=s_len, max_length=5)
    ref = _greedy_by_teacher_forcing(model, source, s_len, 5)
    for b in range(3):
        np.testing.assert_array_equal(greedy[b], ref[:, b])
    beam1 = model.generate(source, source_lengths=s_len, max_length=5, method="beam",
                           beam_width=1)
    for a, b in zip(beam1, greedy):
        np.testing.assert_array_equal(a, b)
    fastrnn.save(model, tmp_path / "deep.npz")
    back = fastrnn.load(tmp_path / "deep.npz")
    assert sorted(back.params) == sorted(model.params)
    _, target_in, _, _, t_len = _batch()
    np.testing.assert_array_equal(back.forward(source, target_in, s_len, t_len),
                                  model.forward(source, target_in, s_len, t_len))
    for method in ("greedy", "sample", "beam"):
        for a, b in zip(back.generate(source, source_lengths=s_len, max_length=5,
                                      method=method, seed=2),
                        model.generate(source, source_lengths=s_len, max_length=5,
                                       method=method, seed=2)):
            np.testing.assert_array_equal(a, b)
