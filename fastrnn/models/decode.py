"""Free-running generation from a recurrent language model or decoder, with an
end-of-sequence symbol (Goodfellow et al. (2016), sec. 10.2.2): greedy
decoding, sampling with a temperature, and beam search.

The model is an embedding, one or more unidirectional recurrent layers
(`fastrnn.RNN`, `LSTM`, `GRU`, any ``num_layers``) and a `fastrnn.Linear`
over the vocabulary. Each step feeds the last token back as the next input
(the model's own output, not the data: free-running, as opposed to the
teacher forcing of training, Goodfellow et al. (2016), sec. 10.2.1) and
stops a row at ``end_token`` (kept in the output) or at ``max_length``
tokens. The whole continuation of the whole batch is one call of the Cython
loop `fastrnn.models._decode.run`, without the GIL; each cell layer steps
through the same `_forward_step` as the layers' own ``step``.

Two entry points:

`generate(model, prompt, ...)`
    What ``Sequential.generate`` calls: the prompt is run through the
    model's layers (one ``forward`` call per layer, Dropout layers skipped
    as in inference) up to its last token, and the loop starts from that
    token and the final states.
`generate_tokens(embedding, layers, output, start_tokens, ...)`
    The loop with its parts given explicitly, for composite models (the
    decoder of an encoder-decoder, Goodfellow et al. (2016), sec. 10.4).
    Its extension points:

    ``states``
        the initial state of each recurrent layer (e.g. the encoder's
        summary through a learned projection, Goodfellow et al. (2016),
        fig. 10.9);
    ``input_term``
        a constant (B, G*H) term added to the first cell layer's input
        projection at every step, per batch row (a context vector's
        projection, Goodfellow et al. (2016), sec. 10.2.3 and fig. 10.10,
        added once per step instead of concatenating the context to every
        input); G*H as the first layer's ``weight_ih_l0`` has rows;
    ``readout``
        a callable ``readout(h_top, rows) -> features`` run between the top
        recurrent layer and the output layer (an attention read over the
        encoder's states, Goodfellow et al. (2016), sec. 10.7.5): ``h_top``
        is the top layer's new state of the rows still running (n, H), a
        copy; ``rows`` (n,) the batch row each of them belongs to (a beam
        has several rows per batch row); it returns (n, F), F the output
        layer's ``in_features``. The loop calls it with the GIL, once per
        step; it must not keep state of its own between steps (beam search
        reorders the rows).

Methods
-------
``"greedy"``
    The most probable token at each step, ties to the lowest token id.
``"sample"``
    A draw from softmax(logits / temperature), exactly (inverse-CDF over
    the probabilities summed in token order, in float64). The t-th token of
    batch row b uses the uniform ``u[b, t]`` of
    ``numpy.random.default_rng(seed).random((B, max_length))``, drawn before
    the loop: the tokens depend on the seed, the model, the prompt and
    ``max_length`` only (not on threads; the first rows of a batch are
    generated alike when rows are added after them).
``"beam"``
    Beam search of width ``beam_width`` over summed log-probabilities
    (log softmax at temperature 1). At each step, per batch row, the
    ``beam_width`` best extensions (hypothesis, token) are ranked (ties to
    the earlier hypothesis, then the lower token id); those among them
    that end in ``end_token`` finish, and the best ``beam_width`` that do
    not end go on, their states gathered from their parents. A row stops
    when no live hypothesis scores above its best finished one (scores only
    fall as tokens are added, so none could overtake it), and at
    ``max_length``, where the live hypotheses count as finished without an
    end token. The result is the finished hypothesis of highest summed
    log-probability, ties to the one finished first. Lengths are not
    normalised: the search targets the most probable sequence, which
    favours ending early when the model says so; with ``beam_width=1`` it
    is exactly the greedy result.

Outputs
-------
`generate_tokens` returns a `Decoded`: ``tokens`` (B, max_length) padded with -1
after each row's ``lengths[b]`` tokens, and ``scores`` (the beam's summed
log-probabilities; NaN for the other methods). `generate` returns the token
arrays themselves: one 1-D int array for a 1-D prompt, a list of B of them
for a (P, B) prompt (time-major like the layers), each holding the generated
tokens only (not the prompt), ``end_token`` last when it was generated.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Optional, Sequence, Union

import numpy as np
from numpy.typing import ArrayLike

from fastrnn._core.grad_mode import no_grad
from fastrnn._core.validation import (
    as_float_array, check_choice, check_int, check_lengths, check_random_state, check_real,
)
from fastrnn.layers import _recurrent
from fastrnn.layers.base import RecurrentLayer, _step_threads
from fastrnn.layers.dropout import Dropout
from fastrnn.layers.embedding import Embedding
from fastrnn.layers.linear import Linear
from fastrnn.models import _decode

__all__ = ["Decoded", "generate_tokens", "generate"]

METHODS = ("greedy", "sample", "beam")

# The cell kinds the loop steps (every gated cell of _recurrent.pyx).
_KINDS = {_recurrent.RNN_TANH, _recurrent.RNN_RELU, _recurrent.LSTM, _recurrent.GRU,
          _recurrent.GRU_BEFORE}


@dataclass(frozen=True)
class Decoded:
    """What `generate_tokens` returns.

    Attributes
    ----------
    tokens : ndarray of intp, shape (B, max_length)
        Row b's generated tokens in ``tokens[b, :lengths[b]]``, -1 after.
    lengths : ndarray of intp, shape (B,)
        Tokens generated per row (``end_token`` counted when generated).
    scores : ndarray of float64, shape (B,)
        Beam search: the summed log-probability of the returned sequence;
        NaN for the greedy and sampled methods.
    """

    tokens: np.ndarray
    lengths: np.ndarray
    scores: np.ndarray

    def sequences(self) -> list[np.ndarray]:
        """The generated tokens of each row as a list of 1-D arrays."""
        return [self.tokens[b, :n].copy() for b, n in enumerate(self.lengths)]


def _token_array(tokens, name, vocabulary, ndim, lengths_name=None, lengths=None):
    """An intp array of token ids in [0, vocabulary), of the allowed ndim.
    With per-column ``lengths`` (checked here, named ``lengths_name``) of a
    padded (P, B) array: only the first lengths[b] entries of column b are
    read, each length in [1, P]; the padding is ignored (set to 0 in the
    result). Returns the array and the lengths (None without)."""
    arr = np.asarray(tokens)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be an array of integer token ids, got dtype {arr.dtype}")
    if arr.ndim not in ndim:
        want = " or ".join(str(n) for n in ndim)
        raise ValueError(f"{name} must be {want}-dimensional, got shape {arr.shape}")
    values, padded = arr, ""
    if lengths is not None:
        if arr.ndim != 2:
            raise ValueError(f"{lengths_name} needs a padded batch {name} of shape (P, B), "
                             f"got shape {arr.shape}")
        lengths = check_lengths(lengths, lengths_name, arr.shape[1], 1, arr.shape[0],
                                f" (each {name} column holds 1 to P = {arr.shape[0]} tokens)")
        valid = np.arange(arr.shape[0])[:, None] < lengths
        values, padded = arr[valid], f" within {lengths_name}"
        arr = np.where(valid, arr, 0)
    if values.size and (values.min() < 0 or values.max() >= vocabulary):
        raise ValueError(f"{name} holds token ids{padded} outside [0, {vocabulary}) (the "
                         f"embedding's num_embeddings): min {values.min()}, max {values.max()}")
    return np.ascontiguousarray(arr, dtype=np.intp), lengths


def _check_options(max_length, end_token, method, temperature, beam_width, seed, V):
    """The decoding options, checked (end_token against the vocabulary V);
    the random generator of "sample" last (None for the other methods)."""
    max_length = check_int(max_length, "max_length", minimum=1)
    if end_token is not None:
        end_token = check_int(end_token, "end_token", minimum=0, maximum=V - 1)
    method = check_choice(method, "method", METHODS)
    temperature = check_real(temperature, "temperature", low=0.0, low_open=True)
    beam_width = check_int(beam_width, "beam_width", minimum=1)
    rng = check_random_state(seed) if method == "sample" else None
    return max_length, end_token, method, temperature, beam_width, rng


def _embedding_weight(embedding):
    """The (V_in, E) matrix of an Embedding (its ``params["weight"]``) or of
    a plain 2-D float array."""
    params = getattr(embedding, "params", None)
    weight = params.get("weight") if params is not None else embedding
    if not isinstance(weight, np.ndarray) or weight.ndim != 2 \
            or weight.dtype not in (np.float32, np.float64):
        raise TypeError("embedding must be a fastrnn.Embedding or a 2-D float32/float64 array "
                        f"(num_embeddings, embedding_dim), got {type(embedding).__name__}")
    return np.ascontiguousarray(weight)


def _check_recurrent(layer, index):
    if not isinstance(layer, RecurrentLayer) or getattr(layer, "_kind", None) not in _KINDS:
        raise TypeError(f"layers[{index}] must be a fastrnn.RNN, LSTM or GRU for generation, "
                        f"got {type(layer).__name__}")
    if layer.bidirectional:
        raise TypeError(f"layers[{index}] ({layer!r}) is bidirectional: generation runs "
                        "forward in time, one token at a time, and cannot use a layer that "
                        "reads the sequence backwards")
    layer._check_arrays()


def _state_part(a, label, shape, dtype):
    if a is None:
        return np.zeros(shape, dtype)
    a = as_float_array(a, label, dtype)
    if a.shape != shape:
        raise ValueError(f"{label} must have shape {shape} (num_layers, B, hidden_size), "
                         f"got {a.shape}")
    return a


def _initial_state(state, layer, index, B):
    """(h0, c0) of shape (num_layers, B, H) each (c0 None without a cell);
    None (or a None part) for zeros."""
    shape, name = (layer.num_layers, B, layer.hidden_size), f"states[{index}]"
    if not layer._has_cell:
        return _state_part(state, name, shape, layer.dtype), None
    if state is None:
        state = (None, None)
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise TypeError(f"{name} must be a pair (h, c) for an LSTM, each of shape {shape}")
    return (_state_part(state[0], f"{name}[0]", shape, layer.dtype),
            _state_part(state[1], f"{name}[1]", shape, layer.dtype))


def _cell_tables(layers, states, B, N, dtype):
    """The loop's cell tables (addresses, shapes), with the state buffers
    (the initial states in their first B rows) and the arrays the
    addresses point into, which the caller keeps alive during the call."""
    rows, shapes, keep = [], [], []
    for index, (layer, state) in enumerate(zip(layers, states)):
        h0, c0 = _initial_state(state, layer, index, B)
        H, G = layer.hidden_size, layer._gates
        for k in range(layer.num_layers):
            bias_x, b_hn = layer._bias_split(k, "")
            if b_hn.size == 0:
                b_hn = np.zeros(H, dtype)
            peep = layer._peepholes(k, "")
            buffers = [np.zeros((N, H), dtype) for _ in range(4 if layer._has_cell else 2)]
            buffers[0][:B] = h0[k]
            if layer._has_cell:
                buffers[2][:B] = c0[k]
            parts = [layer.params[f"weight_ih_l{k}"], layer.params[f"weight_hh_l{k}"],
                     np.ascontiguousarray(bias_x), np.ascontiguousarray(b_hn),
                     peep if peep.size else None] + buffers + [None] * (4 - len(buffers))
            keep.extend(parts)
            rows.append([0 if a is None else a.ctypes.data for a in parts])
            shapes.append([layer._kind, layer._layer_input_size(k), H, G * H])
    return np.array(rows, dtype=np.intp), np.array(shapes, dtype=np.intc), keep


def generate_tokens(embedding: Any, layers: Sequence[RecurrentLayer], output: Linear,
                    start_tokens: ArrayLike, *, states: Optional[Sequence[Any]] = None,
                    max_length: int, end_token: Optional[int] = None,
                    method: str = "greedy", temperature: float = 1.0, beam_width: int = 4,
                    seed: Union[None, int, np.random.Generator] = None,
                    input_term: Optional[ArrayLike] = None,
                    readout: Optional[Callable[[np.ndarray, np.ndarray], ArrayLike]] = None
                    ) -> Decoded:
    """Generate tokens from explicit parts: embedding -> layers -> output.

    Parameters
    ----------
    embedding : fastrnn.Embedding or ndarray (V_in, E)
        The input embedding (its ``params["weight"]``).
    layers : sequence of fastrnn.RNN, LSTM or GRU
        Unidirectional, of the embedding's dtype, each taking the previous
        one's hidden size (the first: E).
    output : fastrnn.Linear
        ``out_features`` V is the vocabulary of the generated tokens (at most
        V_in, so that every token can be fed back); ``in_features`` is the
        top layer's hidden size, or F of ``readout``.
    start_tokens : array of int, shape (B,)
        The first input token of each row (the prompt's last token).
    states : sequence, optional
        One initial state per layer, as the layer's ``forward`` returns it:
        h, or (h, c) for an LSTM, each (num_layers, B, H); None for zeros.
    max_length, end_token, method, temperature, beam_width, seed
        See `generate` and the module docstring. ``temperature`` acts on
        ``method="sample"`` only.
    input_term : array (B, G*H), optional
        Added to the first cell layer's input projection at every step (see
        the module docstring).
    readout : callable, optional
        ``readout(h_top (n, H), rows (n,)) -> (n, F)`` between the top layer
        and ``output`` (see the module docstring).

    Returns
    -------
    Decoded
    """
    weight = _embedding_weight(embedding)
    dtype = weight.dtype
    V_in, E = weight.shape
    layers = list(layers)
    if not layers:
        raise TypeError("layers must hold at least one recurrent layer (RNN, LSTM or GRU)")
    width = E
    for index, layer in enumerate(layers):
        _check_recurrent(layer, index)
        if layer.dtype != dtype:
            raise TypeError(f"layers[{index}] is {layer.dtype}, the embedding {dtype}: all "
                            "parts must have one dtype")
        if layer.input_size != width:
            raise ValueError(f"layers[{index}] takes input_size={layer.input_size}, but the "
                             f"part before it gives {width} features")
        width = layer.hidden_size
    if not isinstance(output, Linear):
        raise TypeError(f"output must be a fastrnn.Linear, got {type(output).__name__}")
    output._check_arrays()
    if output.dtype != dtype:
        raise TypeError(f"output is {output.dtype}, the embedding {dtype}: all parts must "
                        "have one dtype")
    if readout is None and output.in_features != width:
        raise ValueError(f"output takes in_features={output.in_features}, but the top "
                         f"recurrent layer gives {width}")
    if readout is not None and not callable(readout):
        raise TypeError(f"readout must be None or a callable, got {type(readout).__name__}")
    V = output.out_features
    if V > V_in:
        raise ValueError(f"output has out_features={V} tokens but the embedding only "
                         f"{V_in} rows: every generated token must be a valid input")
    start, _ = _token_array(start_tokens, "start_tokens", V_in, (1,))
    B = start.shape[0]
    max_length, end_token, method, temperature, beam_width, rng = _check_options(
        max_length, end_token, method, temperature, beam_width, seed, V)
    if states is None:
        states = [None] * len(layers)
    elif len(states) != len(layers):
        raise ValueError(f"states must hold one state per layer ({len(layers)}), "
                         f"got {len(states)}")
    first_width = layers[0]._gates * layers[0].hidden_size
    if input_term is not None:
        # (batch rows, the first layer's gates x hidden_size)
        input_term = as_float_array(input_term, "input_term", dtype, shape=(B, first_width))
    if B == 0:
        return Decoded(np.full((0, max_length), -1, np.intp), np.zeros(0, np.intp),
                       np.zeros(0, np.float64))
    N = B * (beam_width if method == "beam" else 1)
    cells, shapes, keep = _cell_tables(layers, states, B, N, dtype)
    uniforms = rng.random((B, max_length)) if rng is not None else None
    b_out = output.params["bias"] if output.bias else np.zeros(V, dtype)
    # The BLAS on one thread for the steps when every layer's step is small
    # (as the layers' own step loops do), else as it is.
    threads = min(_step_threads(N, int(GH) // int(H), int(H)) for _, _, H, GH in shapes)
    tokens, lengths, scores = _decode.run(
        _decode.METHODS[method], beam_width, max_length,
        -1 if end_token is None else end_token, temperature, weight, cells, shapes,
        input_term, readout, output.params["weight"], b_out, uniforms, start, threads)
    del keep
    if method != "beam":
        scores[:] = np.nan
    return Decoded(tokens, lengths, scores)


def _language_model_parts(model):
    """(embedding, recurrent layers, output) of a Sequential language model:
    an Embedding, recurrent layers and Dropout layers (skipped, as in
    inference), then a Linear over the vocabulary."""
    parts = list(getattr(model, "layers", ()))
    shape = ("generate needs a language model: Sequential(Embedding, one or more RNN, LSTM "
             "or GRU layers (Dropout allowed between them), Linear over the vocabulary)")
    if len(parts) < 3 or not isinstance(parts[0], Embedding) \
            or not isinstance(parts[-1], Linear):
        raise TypeError(f"{shape}; got {model!r}")
    recurrent = []
    for index, part in enumerate(parts[1:-1], start=1):
        if isinstance(part, Dropout):
            continue
        if not isinstance(part, RecurrentLayer):
            raise TypeError(f"{shape}; part {index} is a {type(part).__name__}")
        _check_recurrent(part, index)
        recurrent.append(part)
    if not recurrent:
        raise TypeError(f"{shape}; it has no recurrent layer")
    return parts[0], recurrent, parts[-1]


def _prompt_states(model, recurrent, tokens, lengths=None):
    """The final state of each recurrent layer after ``tokens`` (T, B) (each
    column's first lengths[b] tokens, 0 to T, with ``lengths``), from one
    forward call of the model in evaluation mode (dropout off); every
    part's mode is restored after."""
    if tokens.shape[0] == 0:
        return None
    modes = [(part, part.training) for part in (model,) + tuple(model.layers)
             if isinstance(getattr(part, "training", None), bool)]
    model.eval()
    try:
        with no_grad():   # nothing of the prompt is differentiated
            _, states = model.forward(tokens, lengths=lengths)
    finally:
        for part, mode in modes:
            part.training = mode
    return [states] if len(recurrent) == 1 else list(states)


def generate(model: Any, prompt: ArrayLike, *, max_length: int,
             end_token: Optional[int] = None, method: str = "greedy",
             temperature: float = 1.0, beam_width: int = 4,
             seed: Union[None, int, np.random.Generator] = None,
             prompt_lengths: Optional[ArrayLike] = None
             ) -> Union[np.ndarray, list[np.ndarray]]:
    """Continue ``prompt`` with tokens generated by a language model (what
    ``Sequential.generate`` runs; see the module docstring for the methods).

    Parameters
    ----------
    model : fastrnn.Sequential
        Embedding -> RNN/LSTM/GRU layers (unidirectional; Dropout layers
        between them are skipped) -> Linear over the vocabulary.
    prompt : array of int, shape (P,) or (P, B)
        Token ids, time-major like the layers (a batch of B prompts of P
        tokens each, P >= 1; or of ``prompt_lengths`` tokens each, padded
        to P). All but the last token of each prompt run through the
        model's ``forward`` (in evaluation mode; this replaces the layers'
        cached forward pass); the last token is the first input of the loop.
    max_length : int
        Tokens to generate at most per row (>= 1).
    end_token : int, optional
        The end-of-sequence symbol: a row stops after generating it (it is
        kept as the row's last token). None: every row runs to max_length.
    method : {"greedy", "sample", "beam"}
    temperature : float
        > 0; "sample" draws from softmax(logits / temperature).
    beam_width : int
        >= 1, for "beam"; 1 gives the greedy result.
    seed : None, int or numpy.random.Generator
        The uniforms of "sample" (row b draws from row b of the uniforms, see
        the module docstring).
    prompt_lengths : array_like of int, shape (B,), optional
        Prompts of different lengths, as the ``lengths`` of the layers'
        ``forward`` (PyTorch's padded-and-lengths convention): column b of a
        2-D ``prompt`` holds its prompt in its first ``prompt_lengths[b]``
        tokens (1 to P); what follows is padding, never read (any integers).
        Each row continues from the end of its own prompt: with "greedy"
        and "beam", a row gets the tokens it gets alone; with "sample", row
        b gets those of row b of a batch of B copies of its own prompt
        (row b draws from row b of the uniforms; the first row, those it
        gets alone with the same seed). None: every prompt holds all P
        tokens.

    Returns
    -------
    ndarray or list of ndarray
        The generated tokens (intp), without the prompt: one 1-D array for a
        1-D prompt, a list of B arrays (one per column of the prompt) for a
        2-D one.
    """
    embedding, recurrent, output = _language_model_parts(model)
    tokens, lengths = _token_array(prompt, "prompt", embedding.num_embeddings, (1, 2),
                                   "prompt_lengths", prompt_lengths)
    if tokens.shape[0] == 0:
        raise ValueError(f"prompt must hold at least one token (P >= 1), got shape "
                         f"{tokens.shape}")
    _check_options(max_length, end_token, method, temperature, beam_width, seed,
                   output.out_features)
    unbatched = tokens.ndim == 1
    if unbatched:
        tokens = tokens[:, None]
    if lengths is None:
        states = _prompt_states(model, recurrent, tokens[:-1])
        last = tokens[-1]
    else:
        # Each row's state after all but its own last token (0 tokens for a
        # one-token prompt: the zero initial state).
        states = _prompt_states(model, recurrent, tokens[:-1], lengths - 1)
        last = tokens[lengths - 1, np.arange(tokens.shape[1])]
    decoded = generate_tokens(embedding, recurrent, output, last, states=states,
                     max_length=max_length, end_token=end_token, method=method,
                     temperature=temperature, beam_width=beam_width, seed=seed)
    sequences = decoded.sequences()
    return sequences[0] if unbatched else sequences
