"""Free-running generation (fastrnn.models.decode): greedy, sampling and beam
search against plain NumPy decoders written here from the equations (the cell
steps of tests/reference.py, one row and one step at a time), beam search
against exhaustive search, sampled frequencies against the model's
probabilities, and the checks of bad input."""
import itertools

import numpy as np
import pytest

import fastrnn
from fastrnn.models.decode import generate_tokens

from reference import gru_forward, lstm_forward, rnn_forward

V, E = 7, 5


# ----------------------------------------------------------- NumPy model
def _params64(layer, k):
    p = {name: np.asarray(a, np.float64) for name, a in layer.params.items()}
    GH = layer._gates * layer.hidden_size
    b_ih = p.get(f"bias_ih_l{k}", np.zeros(GH))
    b_hh = p.get(f"bias_hh_l{k}", np.zeros(GH))
    return p[f"weight_ih_l{k}"], p[f"weight_hh_l{k}"], b_ih, b_hh, p


def _layer_step(layer, x, state):
    """One step of every sub-layer of ``layer`` for one row x (D,); state: a
    list of (h, c) per sub-layer, replaced by the new one."""
    for k in range(layer.num_layers):
        w_ih, w_hh, b_ih, b_hh, p = _params64(layer, k)
        h, c = state[k]
        if isinstance(layer, fastrnn.LSTM):
            peep = p.get(f"weight_peephole_l{k}")
            hs, cs = lstm_forward(x[None, None], w_ih, w_hh, b_ih, b_hh, h[None], c[None], peep)
            state[k] = (hs[1, 0], cs[1, 0])
        elif isinstance(layer, fastrnn.GRU):
            hs = gru_forward(x[None, None], w_ih, w_hh, b_ih, b_hh, h[None], layer.reset_after)
            state[k] = (hs[1, 0], None)
        else:
            hs = rnn_forward(x[None, None], w_ih, w_hh, b_ih, b_hh, h[None], layer.nonlinearity)
            state[k] = (hs[1, 0], None)
        x = state[k][0]
    return x


class NumpyModel:
    """embedding -> layers -> [readout] -> output in float64, one row."""

    def __init__(self, emb, layers, out, input_term=None, readout=None):
        self.emb = np.asarray(emb, np.float64)
        self.layers, self.readout = layers, readout
        self.w = np.asarray(out.params["weight"], np.float64)
        self.b = np.asarray(out.params["bias"], np.float64) if out.bias else 0.0
        self.input_term = input_term

    def start(self, b, states=None):
        state = []
        for i, layer in enumerate(self.layers):
            H = layer.hidden_size
            rows = []
            for k in range(layer.num_layers):
                if states is None or states[i] is None:
                    rows.append((np.zeros(H), np.zeros(H)))
                elif isinstance(states[i], tuple):
                    rows.append((np.asarray(states[i][0][k, b], np.float64),
                                 np.asarray(states[i][1][k, b], np.float64)))
                else:
                    rows.append((np.asarray(states[i][k, b], np.float64), None))
            state.append(rows)
        return state

    def step(self, b, token, state):
        """(logits (V,), new state) of batch row b after feeding token."""
        state = [list(s) for s in state]
        x = self.emb[token]
        for i, layer in enumerate(self.layers):
            if i == 0 and self.input_term is not None:
                # The term enters the gates as an extra bias of the first layer.
                saved = layer.params["bias_ih_l0"].copy()
                layer.params["bias_ih_l0"] = saved + self.input_term[b]
                x = _layer_step(layer, x, state[i])
                layer.params["bias_ih_l0"] = saved
            else:
                x = _layer_step(layer, x, state[i])
        if self.readout is not None:
            x = np.asarray(self.readout(x[None], np.array([b])), np.float64)[0]
        return x @ self.w.T + self.b, state


def _log_softmax(z):
    z = z - z.max()
    return z - np.log(np.exp(z).sum())


def _prefixed(model, b, states, prefixes):
    """The state of row b after its prefix tokens (none by default)."""
    state = model.start(b, states)
    for token in (prefixes[b] if prefixes is not None else []):
        _, state = model.step(b, token, state)
    return state


def reference_greedy_or_sample(model, starts, max_length, end_token, uniforms=None,
                               temperature=1.0, states=None, prefixes=None):
    out = []
    for b, token in enumerate(starts):
        state, seq = _prefixed(model, b, states, prefixes), []
        for t in range(max_length):
            logits, state = model.step(b, token, state)
            if uniforms is None:
                token = int(np.argmax(logits))
            else:
                w = np.exp((logits - logits.max()) / temperature)
                cum = np.cumsum(w)
                token = int(np.searchsorted(cum, uniforms[b, t] * cum[-1], side="right"))
            seq.append(token)
            if token == end_token:
                break
        out.append(np.array(seq))
    return out


def reference_beam(model, starts, max_length, end_token, K, states=None, prefixes=None):
    """Beam search by the rules of the module docstring, one batch row at a
    time, hypotheses as Python lists: (score, tokens, state, next input)."""
    results = []
    for b, token in enumerate(starts):
        live = [(0.0, [], _prefixed(model, b, states, prefixes), token)]
        best = (-np.inf, None)
        for t in range(max_length):
            candidates = []
            for j, (score, seq, state, tok) in enumerate(live):
                logits, new_state = model.step(b, tok, state)
                logp = _log_softmax(logits)
                for v in range(len(logp)):
                    candidates.append((score + logp[v], j, v, seq + [v], new_state))
            # Ranked by score, ties to the earlier hypothesis, then the lower id.
            order = sorted(range(len(candidates)),
                           key=lambda i: (-candidates[i][0], candidates[i][1], candidates[i][2]))
            for i in order[:K]:
                if candidates[i][2] == end_token and candidates[i][0] > best[0]:
                    best = (candidates[i][0], candidates[i][3])
            going = [candidates[i] for i in order if candidates[i][2] != end_token][:K]
            if t + 1 == max_length:
                if going and going[0][0] > best[0]:
                    best = (going[0][0], going[0][3])
                break
            if not going or going[0][0] <= best[0]:
                break
            live = [(c[0], c[3], c[4], c[2]) for c in going]
        results.append((np.array(best[1]), best[0]))
    return results


# --------------------------------------------------------------- models
CONFIGS = [
    ("lstm", lambda dt: [fastrnn.LSTM(E, 6, dtype=dt, seed=1)]),
    ("lstm2-peep", lambda dt: [fastrnn.LSTM(E, 6, num_layers=2, peepholes=True, dtype=dt,
                                            seed=2)]),
    ("gru-rnn", lambda dt: [fastrnn.GRU(E, 6, dtype=dt, seed=3),
                            fastrnn.RNN(6, 5, nonlinearity="relu", dtype=dt, seed=4)]),
    ("gru-before-nobias", lambda dt: [fastrnn.GRU(E, 6, reset_after=False, bias=False,
                                                  num_layers=2, dtype=dt, seed=5)]),
    ("rnn-lstm", lambda dt: [fastrnn.RNN(E, 4, dtype=dt, seed=6),
                             fastrnn.LSTM(4, 6, num_layers=2, dtype=dt, seed=7)]),
]


def _model(config, dtype, scale=3.0):
    layers = dict(CONFIGS)[config](dtype)
    rng = np.random.default_rng(11)
    emb = rng.normal(size=(V, E)).astype(dtype)
    out = fastrnn.Linear(layers[-1].hidden_size, V, dtype=dtype, seed=8)
    # Larger output weights: peaked distributions, so that greedy paths
    # vary and end at times.
    out.params["weight"] = out.params["weight"] * scale
    return emb, layers, out


def _assert_sequences(got, want):
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


# ---------------------------------------------------------------- greedy
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", [c for c, _ in CONFIGS])
def test_greedy_matches_numpy(config, dtype):
    emb, layers, out = _model(config, dtype)
    starts = [0, 3, 5, 1]
    got = generate_tokens(emb, layers, out, starts, max_length=12, end_token=2)
    want = reference_greedy_or_sample(NumpyModel(emb, layers, out), starts, 12, 2)
    _assert_sequences(got.sequences(), want)
    assert np.all(np.isnan(got.scores))
    for b, seq in enumerate(want):
        assert got.lengths[b] == len(seq)
        assert np.all(got.tokens[b, len(seq):] == -1)


def test_greedy_stops_each_row_at_the_end_token_or_max_length():
    emb, layers, out = _model("lstm", np.float64)
    starts = list(range(V))
    free = generate_tokens(emb, layers, out, starts, max_length=15).sequences()
    assert all(len(s) == 15 for s in free)
    end = int(free[0][3])
    stopped = generate_tokens(emb, layers, out, starts, max_length=15, end_token=end).sequences()
    for f, s in zip(free, stopped):
        hits = np.flatnonzero(f == end)
        n = hits[0] + 1 if hits.size else 15
        np.testing.assert_array_equal(s, f[:n])
    assert len(stopped[0]) <= 4 and stopped[0][-1] == end
    assert any(len(s) < 15 for s in stopped) and any(len(s) > 1 for s in stopped)


def test_initial_states_and_input_term_and_readout():
    dt = np.float64
    emb, layers, _ = _model("rnn-lstm", dt)
    rng = np.random.default_rng(5)
    B = 3
    states = [rng.normal(size=(1, B, 4)),
              (rng.normal(size=(2, B, 6)), rng.normal(size=(2, B, 6)))]
    term = rng.normal(size=(B, 4))
    A = rng.normal(size=(9, 6))
    context = rng.normal(size=(B, 9))
    seen_rows = []

    def readout(h, rows):
        seen_rows.append(rows.copy())
        return np.tanh(h @ A.T + context[rows])

    out = fastrnn.Linear(9, V, dtype=dt, seed=3)
    out.params["weight"] = out.params["weight"] * 3
    starts = [1, 2, 4]
    model = NumpyModel(emb, layers, out, input_term=term, readout=readout)
    got = generate_tokens(emb, layers, out, starts, states=states, max_length=8, end_token=0,
                 input_term=term, readout=readout)
    want = reference_greedy_or_sample(model, starts, 8, 0, states=states)
    _assert_sequences(got.sequences(), want)
    assert seen_rows[0].tolist() == [0, 1, 2]
    for K in (1, 3):
        got = generate_tokens(emb, layers, out, starts, states=states, max_length=6, end_token=0,
                     input_term=term, readout=readout, method="beam", beam_width=K)
        for b, (seq, score) in enumerate(reference_beam(model, starts, 6, 0, K, states)):
            np.testing.assert_array_equal(got.sequences()[b], seq)
            np.testing.assert_allclose(got.scores[b], score, rtol=1e-10)


# ------------------------------------------------------------------ beam
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", ["lstm", "gru-rnn", "gru-before-nobias"])
@pytest.mark.parametrize("K", [1, 2, 4])
def test_beam_matches_numpy(config, dtype, K):
    emb, layers, out = _model(config, dtype, scale=1.5)
    starts = [0, 3, 6]
    got = generate_tokens(emb, layers, out, starts, max_length=7, end_token=2, method="beam",
                 beam_width=K)
    want = reference_beam(NumpyModel(emb, layers, out), starts, 7, 2, K)
    rtol = 1e-4 if dtype == np.float32 else 1e-10
    for b, (seq, score) in enumerate(want):
        np.testing.assert_array_equal(got.sequences()[b], seq)
        np.testing.assert_allclose(got.scores[b], score, rtol=rtol)


@pytest.mark.parametrize("config", [c for c, _ in CONFIGS])
@pytest.mark.parametrize("end_token", [None, 4])
def test_beam_width_one_is_greedy(config, end_token):
    emb, layers, out = _model(config, np.float32)
    starts = list(range(V)) * 2
    greedy = generate_tokens(emb, layers, out, starts, max_length=20, end_token=end_token)
    beam = generate_tokens(emb, layers, out, starts, max_length=20, end_token=end_token,
                  method="beam", beam_width=1)
    np.testing.assert_array_equal(beam.tokens, greedy.tokens)
    np.testing.assert_array_equal(beam.lengths, greedy.lengths)


def test_wide_beam_finds_the_most_probable_sequence():
    """With a beam wider than every hypothesis the search is exhaustive: it
    must return the most probable of all sequences that end at the end token
    or run to max_length, enumerated here."""
    emb, layers, out = _model("gru-rnn", np.float64, scale=1.0)
    Vs, L, end = 3, 4, 1
    out = fastrnn.Linear(layers[-1].hidden_size, Vs, dtype=np.float64, seed=2)
    model = NumpyModel(emb, layers, out)
    for start in range(3):
        best = (-np.inf, None)
        for n in range(1, L + 1):
            for seq in itertools.product(range(Vs), repeat=n):
                if end in seq[:-1] or (n < L and seq[-1] != end):
                    continue
                state, tok, score = model.start(0), start, 0.0
                for v in seq:
                    logits, state = model.step(0, tok, state)
                    score += _log_softmax(logits)[v]
                    tok = v
                best = max(best, (score, seq), key=lambda s: s[0])
        got = generate_tokens(emb, layers, out, [start], max_length=L, end_token=end, method="beam",
                     beam_width=Vs ** L)
        assert tuple(got.sequences()[0]) == best[1]
        np.testing.assert_allclose(got.scores[0], best[0], rtol=1e-12)


# --------------------------------------------------------------- sampling
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("config", ["lstm2-peep", "gru-rnn"])
@pytest.mark.parametrize("temperature", [0.5, 1.0, 2.0])
def test_sample_matches_numpy_with_the_same_uniforms(config, dtype, temperature):
    emb, layers, out = _model(config, dtype, scale=1.0)
    starts = [0, 1, 2, 3, 4]
    got = generate_tokens(emb, layers, out, starts, max_length=10, end_token=6, method="sample",
                 temperature=temperature, seed=42)
    uniforms = np.random.default_rng(42).random((len(starts), 10))
    want = reference_greedy_or_sample(NumpyModel(emb, layers, out), starts, 10, 6,
                                      uniforms=uniforms, temperature=temperature)
    _assert_sequences(got.sequences(), want)


def test_sample_is_seeded_and_rows_keep_their_draws():
    emb, layers, out = _model("lstm", np.float32, scale=1.0)
    a = generate_tokens(emb, layers, out, [0, 1, 2], max_length=9, method="sample", seed=7)
    b = generate_tokens(emb, layers, out, [0, 1, 2], max_length=9, method="sample", seed=7)
    c = generate_tokens(emb, layers, out, [0, 1, 2], max_length=9, method="sample", seed=8)
    np.testing.assert_array_equal(a.tokens, b.tokens)
    assert not np.array_equal(a.tokens, c.tokens)
    # Rows added after the others leave them as they were.
    more = generate_tokens(emb, layers, out, [0, 1, 2, 5, 6], max_length=9, method="sample", seed=7)
    np.testing.assert_array_equal(more.tokens[:3], a.tokens)
    gen = np.random.default_rng(7)
    np.testing.assert_array_equal(
        generate_tokens(emb, layers, out, [0, 1, 2], max_length=9, method="sample", seed=gen).tokens,
        a.tokens)


@pytest.mark.parametrize("temperature", [0.5, 1.0, 3.0])
def test_sampled_pair_frequencies_follow_the_model(temperature):
    """20,000 rows sample two tokens each; the 49 pair counts against the
    model's probabilities of the pairs (chi-square, fixed seed: the test is
    deterministic; the bound is the 99.99% quantile of chi2 with 48 degrees
    of freedom)."""
    emb, layers, out = _model("gru-rnn", np.float64, scale=0.7)
    n = 20000
    got = generate_tokens(emb, layers, out, np.full(n, 3), max_length=2, method="sample",
                 temperature=temperature, seed=2024)
    counts = np.bincount(got.tokens[:, 0] * V + got.tokens[:, 1], minlength=V * V)
    model = NumpyModel(emb, layers, out)
    logits, state = model.step(0, 3, model.start(0))
    p1 = np.exp(_log_softmax(logits / temperature))
    probs = np.empty((V, V))
    for v in range(V):
        logits2, _ = model.step(0, v, state)
        probs[v] = p1[v] * np.exp(_log_softmax(logits2 / temperature))
    expected = n * probs.ravel()
    chi2 = np.sum((counts - expected) ** 2 / expected)
    assert chi2 < 90.0, chi2   # scipy.stats.chi2.ppf(0.9999, 48) = 89.6
    assert counts.sum() == n


# ------------------------------------------------------ Sequential.generate
def _language_model(config, dtype, dropout=False):
    emb, layers, out = _model(config, dtype)
    embedding = fastrnn.Embedding(V, E, dtype=dtype)
    embedding.params["weight"] = emb
    parts = [embedding]
    for layer in layers:
        parts.append(layer)
        if dropout:
            parts.append(fastrnn.Dropout(0.5, seed=0))
    return fastrnn.Sequential(*parts, out), NumpyModel(emb, layers, out)


@pytest.mark.parametrize("config", ["lstm2-peep", "gru-rnn"])
@pytest.mark.parametrize("method", ["greedy", "sample", "beam"])
def test_sequential_generate_runs_the_prompt_then_the_loop(config, method):
    model, reference = _language_model(config, np.float64, dropout=True)
    prompt = np.array([[0, 1, 2], [3, 4, 5], [1, 1, 0]])    # (P=3, B=3), time-major
    got = model.generate(prompt, max_length=9, end_token=2, method=method, seed=5,
                         temperature=0.8, beam_width=3)
    assert isinstance(got, list) and len(got) == 3
    prefixes = prompt[:-1].T
    if method == "beam":
        want = [seq for seq, _ in reference_beam(reference, prompt[-1], 9, 2, 3,
                                                 prefixes=prefixes)]
    else:
        uniforms = np.random.default_rng(5).random((3, 9)) if method == "sample" else None
        want = reference_greedy_or_sample(reference, prompt[-1], 9, 2, uniforms=uniforms,
                                          temperature=0.8, prefixes=prefixes)
    _assert_sequences(got, want)
    # Dropout is off while generating, and every part's mode is left as it was.
    assert model.training and all(p.training for p in model.layers if hasattr(p, "training"))
    one = model.generate(prompt[:, 1], max_length=9, end_token=2, method=method, seed=5,
                         temperature=0.8, beam_width=3)
    assert one.ndim == 1 and one.dtype == np.intp
    if method != "sample":
        np.testing.assert_array_equal(one, got[1])


@pytest.mark.parametrize("config", ["lstm", "gru-rnn", "rnn-lstm"])   # torch: no peepholes
def test_sequential_generate_matches_a_pytorch_loop(config):
    """The same model through Sequential.to_torch, decoded by a plain torch
    loop: greedy, and sampling with the documented uniforms."""
    torch = pytest.importorskip("torch")
    model, _ = _language_model(config, np.float64)
    module = model.to_torch()
    prompt = np.array([[0, 1, 2, 3], [4, 5, 6, 0]])
    uniforms = np.random.default_rng(9).random((4, 10))
    for method in ("greedy", "sample"):
        got = model.generate(prompt, max_length=10, end_token=2, method=method, seed=9)
        for b in range(prompt.shape[1]):
            with torch.no_grad():
                y, state = module(torch.from_numpy(prompt[:, b:b + 1]))
                seq = []
                for t in range(10):
                    logits = y[-1, 0].numpy()
                    if method == "greedy":
                        token = int(np.argmax(logits))
                    else:
                        cum = np.cumsum(np.exp(logits - logits.max()))
                        token = int(np.searchsorted(cum, uniforms[b, t] * cum[-1], "right"))
                    seq.append(token)
                    if token == 2:
                        break
                    y, state = module(torch.tensor([[token]]), state)
            np.testing.assert_array_equal(got[b], seq)


def test_sequential_generate_turns_every_dropout_off():
    """Dropout layers and the layers' own dropout= and recurrent_dropout=
    act only in training: generation is inference."""
    plain, reference = _language_model("lstm", np.float64)
    emb, lstm, out = plain.layers
    noisy = fastrnn.LSTM(E, 6, num_layers=2, dropout=0.5, recurrent_dropout=0.5,
                         dtype=np.float64, seed=3)
    stacked = fastrnn.LSTM(E, 6, num_layers=2, dtype=np.float64, seed=3)
    stacked.params.update(noisy.params)
    prompt = np.array([[0, 3], [2, 1], [5, 6]])
    for method in ("greedy", "beam"):
        got = fastrnn.Sequential(emb, fastrnn.Dropout(0.5), noisy, fastrnn.Dropout(0.5),
                                 fastrnn.Linear(6, V, dtype=np.float64, seed=1))
        want = fastrnn.Sequential(emb, stacked, got.layers[-1])
        _assert_sequences(got.generate(prompt, max_length=8, method=method),
                          want.generate(prompt, max_length=8, method=method))
        assert got.training and noisy.training


def test_a_saved_and_loaded_language_model_generates_the_same(tmp_path):
    model, _ = _language_model("gru-rnn", np.float32, dropout=True)
    fastrnn.save(model, tmp_path / "lm.npz")
    loaded = fastrnn.load(tmp_path / "lm.npz")
    prompt = np.array([[1, 2, 3], [0, 6, 5]])
    for method in ("greedy", "sample", "beam"):
        _assert_sequences(loaded.generate(prompt, max_length=7, method=method, seed=3),
                          model.generate(prompt, max_length=7, method=method, seed=3))


def test_sequential_generate_with_a_one_token_prompt():
    model, reference = _language_model("lstm", np.float32)
    got = model.generate([4], max_length=6)
    np.testing.assert_array_equal(got, reference_greedy_or_sample(reference, [4], 6, None)[0])


def test_sequential_generate_refuses_other_models():
    model, _ = _language_model("lstm", np.float32)
    emb, lstm, out = model.layers
    with pytest.raises(TypeError, match="language model"):
        fastrnn.Sequential(lstm, out).generate([0], max_length=2)
    with pytest.raises(TypeError, match="bidirectional"):
        fastrnn.Sequential(emb, fastrnn.LSTM(E, 3, bidirectional=True),
                           out.__class__(6, V)).generate([0], max_length=2)
    with pytest.raises(TypeError, match="part 1 is a LeakyRNN"):
        fastrnn.Sequential(emb, fastrnn.LeakyRNN(E, 6), out).generate([0], max_length=2)
    with pytest.raises(ValueError, match="prompt holds token ids outside"):
        model.generate([[0, 7]], max_length=2)
    with pytest.raises(ValueError, match="at least one token"):
        model.generate(np.zeros((0, 2), int), max_length=2)
    with pytest.raises(TypeError, match="integer token ids"):
        model.generate([0.0], max_length=2)
    with pytest.raises(ValueError, match="max_length must be >= 1"):
        model.generate([[0, 1], [1, 2]], max_length=0)
    assert model.training


# ------------------------------------------------------------ bad input
def test_bad_input_is_refused_with_clear_errors():
    emb, layers, out = _model("lstm", np.float32)
    ok = dict(max_length=3)
    with pytest.raises(ValueError, match="start_tokens holds token ids outside"):
        generate_tokens(emb, layers, out, [0, V], **ok)
    with pytest.raises(ValueError, match="start_tokens holds token ids outside"):
        generate_tokens(emb, layers, out, [-1], **ok)
    with pytest.raises(TypeError, match="integer token ids"):
        generate_tokens(emb, layers, out, [0.5], **ok)
    with pytest.raises(ValueError, match="1-dimensional"):
        generate_tokens(emb, layers, out, [[0]], **ok)
    with pytest.raises(ValueError, match="max_length must be >= 1"):
        generate_tokens(emb, layers, out, [0], max_length=0)
    with pytest.raises(TypeError, match="max_length must be an integer"):
        generate_tokens(emb, layers, out, [0], max_length=2.0)
    with pytest.raises(ValueError, match="temperature must be in"):
        generate_tokens(emb, layers, out, [0], method="sample", temperature=0.0, **ok)
    with pytest.raises(ValueError, match="beam_width must be >= 1"):
        generate_tokens(emb, layers, out, [0], method="beam", beam_width=0, **ok)
    with pytest.raises(ValueError, match="end_token must be <= 6"):
        generate_tokens(emb, layers, out, [0], end_token=V, **ok)
    with pytest.raises(ValueError, match="method must be one of"):
        generate_tokens(emb, layers, out, [0], method="top-k", **ok)
    with pytest.raises(TypeError, match="bidirectional"):
        generate_tokens(emb, [fastrnn.LSTM(E, 6, bidirectional=True)], out, [0], **ok)
    with pytest.raises(TypeError, match="must be a fastrnn.RNN, LSTM or GRU"):
        generate_tokens(emb, [fastrnn.LeakyRNN(E, 6)], out, [0], **ok)
    with pytest.raises(TypeError, match="one dtype"):
        generate_tokens(emb.astype(np.float64), layers, out, [0], **ok)
    with pytest.raises(ValueError, match="input_size=5, but the part before it gives 4"):
        generate_tokens(emb[:, :4], layers, out, [0], **ok)
    with pytest.raises(ValueError, match="in_features=6, but the top recurrent layer gives 3"):
        generate_tokens(emb, [fastrnn.GRU(E, 3)], out, [0], **ok)
    with pytest.raises(ValueError, match="embedding only 3 rows"):
        generate_tokens(emb[:3], layers, out, [0], **ok)
    with pytest.raises(TypeError, match="output must be a fastrnn.Linear"):
        generate_tokens(emb, layers, layers[0], [0], **ok)
    with pytest.raises(TypeError, match="embedding must be"):
        generate_tokens("weights", layers, out, [0], **ok)
    with pytest.raises(ValueError, match=r"states\[0\]\[0\] must have shape \(1, 1, 6\)"):
        generate_tokens(emb, layers, out, [0], states=[(np.zeros((1, 2, 6)), np.zeros((1, 1, 6)))], **ok)
    with pytest.raises(TypeError, match="pair"):
        generate_tokens(emb, layers, out, [0], states=[np.zeros((1, 1, 6))], **ok)
    with pytest.raises(ValueError, match="one state per layer"):
        generate_tokens(emb, layers, out, [0], states=[None, None], **ok)
    with pytest.raises(ValueError, match=r"input_term must have shape \(1, 24\)"):
        generate_tokens(emb, layers, out, [0], input_term=np.zeros((1, 6)), **ok)
    with pytest.raises(ValueError, match=r"readout must return an array of shape \(1, 6\)"):
        generate_tokens(emb, layers, out, [0], readout=lambda h, rows: h[:, :2], **ok)
    with pytest.raises(RuntimeError, match="from the readout"):
        def failing(h, rows):
            raise RuntimeError("from the readout")
        generate_tokens(emb, layers, out, [0], readout=failing, **ok)


def test_empty_batch():
    emb, layers, out = _model("lstm", np.float32)
    got = generate_tokens(emb, layers, out, np.zeros(0, int), max_length=4, method="beam")
    assert got.tokens.shape == (0, 4) and got.sequences() == []


# ------------------------------------------------- prompts of different lengths
def _ragged(prompts, pad=-1):
    """The padded (P, B) array and the lengths of a list of 1-D prompts."""
    lengths = np.array([len(p) for p in prompts])
    padded = np.full((lengths.max(), len(prompts)), pad)
    for b, p in enumerate(prompts):
        padded[:len(p), b] = p
    return padded, lengths


RAGGED = [[0, 1, 2, 3, 4], [5], [3, 6], [1, 4, 4, 0]]


@pytest.mark.parametrize("config", ["lstm2-peep", "gru-rnn"])
@pytest.mark.parametrize("method", ["greedy", "beam"])
def test_ragged_prompts_continue_each_from_its_own_end(config, method):
    """Each row of a ragged batch gets exactly the tokens it gets alone, and
    those of the NumPy decoder fed its own prefix."""
    model, reference = _language_model(config, np.float64, dropout=True)
    prompt, lengths = _ragged(RAGGED)
    got = model.generate(prompt, prompt_lengths=lengths, max_length=9, end_token=2,
                         method=method, beam_width=3)
    for b, p in enumerate(RAGGED):
        alone = model.generate(np.array(p), max_length=9, end_token=2, method=method,
                               beam_width=3)
        np.testing.assert_array_equal(got[b], alone)
    starts, prefixes = [p[-1] for p in RAGGED], [p[:-1] for p in RAGGED]
    if method == "beam":
        want = [seq for seq, _ in reference_beam(reference, starts, 9, 2, 3, prefixes=prefixes)]
    else:
        want = reference_greedy_or_sample(reference, starts, 9, 2, prefixes=prefixes)
    _assert_sequences(got, want)
    assert model.training


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ragged_prompts_sample_from_their_own_rows_of_uniforms(dtype):
    """Sampling: row b draws from row b of the seed's uniforms, so it equals
    row b of a batch whose prompts are all row b's own (and row 0 equals the
    row alone), and the NumPy decoder with those uniforms."""
    model, reference = _language_model("rnn-lstm", dtype)
    prompt, lengths = _ragged(RAGGED)
    got = model.generate(prompt, prompt_lengths=lengths, max_length=10, end_token=2,
                         method="sample", temperature=0.7, seed=4)
    for b, p in enumerate(RAGGED):
        same = np.repeat(np.array(p)[:, None], len(RAGGED), axis=1)
        rows = model.generate(same, max_length=10, end_token=2, method="sample",
                              temperature=0.7, seed=4)
        np.testing.assert_array_equal(got[b], rows[b])
    np.testing.assert_array_equal(got[0], model.generate(
        np.array(RAGGED[0]), max_length=10, end_token=2, method="sample", temperature=0.7,
        seed=4))
    if dtype == np.float64:
        uniforms = np.random.default_rng(4).random((len(RAGGED), 10))
        want = reference_greedy_or_sample(reference, [p[-1] for p in RAGGED], 10, 2,
                                          uniforms=uniforms, temperature=0.7,
                                          prefixes=[p[:-1] for p in RAGGED])
        _assert_sequences(got, want)


def test_ragged_prompts_ignore_the_padding_and_full_lengths_change_nothing():
    model, _ = _language_model("gru-rnn", np.float32)
    prompt, lengths = _ragged(RAGGED, pad=-1)
    other, _ = _ragged(RAGGED, pad=V - 1)
    for method in ("greedy", "sample", "beam"):
        _assert_sequences(model.generate(prompt, prompt_lengths=lengths, max_length=6,
                                         method=method, seed=1),
                          model.generate(other, prompt_lengths=lengths, max_length=6,
                                         method=method, seed=1))
        full = np.array([[0, 1, 2], [3, 4, 5]])
        _assert_sequences(model.generate(full, prompt_lengths=[2, 2, 2], max_length=6,
                                         method=method, seed=1),
                          model.generate(full, max_length=6, method=method, seed=1))
    # Every prompt one token long: no forward pass, the zero state.
    one = model.generate(prompt, prompt_lengths=[1, 1, 1, 1], max_length=5)
    _assert_sequences(one, [model.generate([t], max_length=5) for t in prompt[0]])


def test_ragged_prompts_refuse_bad_lengths():
    model, _ = _language_model("lstm", np.float32)
    prompt, lengths = _ragged(RAGGED)
    with pytest.raises(TypeError, match="prompt_lengths must be integers"):
        model.generate(prompt, prompt_lengths=lengths.astype(float), max_length=2)
    with pytest.raises(ValueError, match=r"prompt_lengths must have shape \(4,\)"):
        model.generate(prompt, prompt_lengths=lengths[:3], max_length=2)
    with pytest.raises(ValueError, match=r"prompt_lengths must be in \[1, 5\]"):
        model.generate(prompt, prompt_lengths=[0, 1, 2, 3], max_length=2)
    with pytest.raises(ValueError, match=r"prompt_lengths must be in \[1, 5\]"):
        model.generate(prompt, prompt_lengths=[6, 1, 2, 3], max_length=2)
    with pytest.raises(ValueError, match=r"prompt_lengths needs a padded batch prompt"):
        model.generate(np.array(RAGGED[0]), prompt_lengths=[5], max_length=2)
    bad = prompt.copy()
    bad[1, 2] = V    # inside row 2's two tokens
    with pytest.raises(ValueError, match="prompt holds token ids within prompt_lengths "
                                         "outside"):
        model.generate(bad, prompt_lengths=lengths, max_length=2)
    with pytest.raises(TypeError, match="integer token ids"):
        model.generate(prompt.astype(float), prompt_lengths=lengths, max_length=2)
