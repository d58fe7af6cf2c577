"""The encoder-decoder (sequence-to-sequence) architecture of Goodfellow et
al. (2016), sec. 10.4 (Cho et al. 2014; Sutskever et al. 2014), with
optional attention (sec. 10.7.5, figure 10.18; Bahdanau et al. (2015),
Luong et al. (2015)).

The encoder reads the source sequence; its summary C, the final state of
its last recurrent layer (both directions of a bidirectional one), becomes
the decoder's context: the decoder's initial state through a learned
projection and an extra input at every step (`fastrnn.ContextRNN`, sec.
10.2.3). The decoder is trained with teacher forcing (sec. 10.2.1, figure
10.5): its input at step t is the true previous target token, so the whole
target sequence runs through the decoder's recurrent layer in one call.
With attention, each decoder state queries the encoder's states after the
recurrent layer (Luong et al.'s global attention), and the attentional
state, not the raw decoder state, goes to the output layer.
"""
from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Mapping, Optional

import numpy as np
from numpy.typing import ArrayLike

from fastrnn._core.progress import Progress
from fastrnn._core.grad_mode import no_grad
from fastrnn._core.validation import (
    NotFittedError, SeedLike, as_array, check_bool, check_int, check_random_state,
)
from fastrnn.io import format as io_format
from fastrnn.models.composite import PartsOwner
from fastrnn.layers.base import RecurrentBase, RecurrentLayer
from fastrnn.layers.dropout import Dropout
from fastrnn.layers.embedding import Embedding
from fastrnn.layers.linear import Linear
from fastrnn.models.attention import SCORES, Attention
from fastrnn.models.context import ContextRNN, load_projections
from fastrnn.models.decode import generate_tokens
from fastrnn.models.sequential import Sequential
from fastrnn.training import losses
from fastrnn.training.optim import Optimizer
# As a module: fastrnn.training.train imports fastrnn.models (its Sequential),
# so its names are looked up when fit runs, not while the packages load.
import fastrnn.training.train as training_loop


def _recurrent_of(model, name):
    """(the layers of ``model`` in order, the recurrent ones): a Sequential's
    parts, or a lone recurrent layer."""
    if isinstance(model, Sequential):
        layers = model.layers
    elif isinstance(model, RecurrentBase):
        layers = (model,)
    else:
        raise TypeError(f"{name} must be a fastrnn.Sequential or a recurrent layer (fastrnn.RNN,"
                        f" LSTM, GRU), got {type(model).__name__}")
    recurrent = tuple(p for p in layers if isinstance(p, RecurrentBase))
    for p in recurrent:
        if p.batch_first:
            raise ValueError(f"{name}: Seq2Seq reads time-major sequences; build its layers "
                             f"with batch_first=False")
    return layers, recurrent


class Seq2Seq(PartsOwner):
    """An encoder and a decoder trained as one model.

    Parameters
    ----------
    encoder : fastrnn.Sequential or fastrnn.RNN/LSTM/GRU
        Reads the source: ``Sequential(Embedding(V_src, E), LSTM(E, H))``
        for token sources, or a recurrent layer for (T, B, D) real-valued
        ones. Its last layer must be an RNN, LSTM or GRU (any number of
        layers, bidirectional or not): its outputs are what attention reads
        and its final state the summary C (size dirs * H).
    decoder : fastrnn.Sequential
        ``Sequential(Embedding(V, E), LSTM(E, H_dec), Linear(H_dec, V))``:
        layers that act on each step before one unidirectional RNN, LSTM or
        GRU (an `Embedding`, `Dropout`), the recurrent layer, and per-step
        layers after it ending in the output layer over the target
        vocabulary. The recurrent layer is conditioned on the summary
        through a `ContextRNN` the model builds around it. It may be deep
        (``num_layers`` > 1, one layer object): the summary sets the
        initial state of every one of its layers, each through its own
        rows of the learned projection, h_0^(k) = tanh(W_c^(k) C + b_c^(k))
        (c_0 = 0 for an LSTM), and enters the first layer's input at every
        step. Every layer so starts from the source, as in Sutskever et al.
        (2014), who hand encoder layer k's final state to decoder layer k;
        a projection of the one summary C of Goodfellow et al. (2016), sec.
        10.4 (Cho et al. 2014), does not need the depths and sizes of the
        encoder and decoder to agree.
    attention : None, "additive" or "dot"
        An `Attention` read of the encoder's outputs between the decoder's
        recurrent layer and the layers after it (``"dot"`` needs H_dec
        equal to the encoder's output width).
    attention_size : int or None
        The additive score's hidden width (default H_dec).
    start_token : int
        The token that starts every decoder input (the "go" symbol): ``fit``
        shifts the targets right behind it; ``generate`` starts from it.
    initial_state, step_input : bool
        How the summary conditions the decoder (see `ContextRNN`).
    seed : None, int or numpy.random.Generator
        Initialisation of the parts the model builds (context projections,
        attention).

    Attributes
    ----------
    params, grads : dict
        ``encoder.*`` and ``decoder.*`` (the two models' own keys),
        ``context_initial.*``, ``context_step.*`` (the summary's
        projections) and ``attention.*``.
    context : ContextRNN
        The decoder's recurrent layer with the summary's projections.
    attention : Attention or None
    """

    def __init__(self, encoder: Any, decoder: Any, *, attention: Optional[str] = None,
                 attention_size: Optional[int] = None, start_token: int = 0,
                 initial_state: bool = True, step_input: bool = True,
                 seed: SeedLike = None) -> None:
        self._encoder_layers, encoder_recurrent = _recurrent_of(encoder, "encoder")
        if not isinstance(self._encoder_layers[-1], RecurrentLayer):
            raise TypeError("encoder: its last layer must be a fastrnn.RNN, LSTM or GRU (its "
                            "states are read by the decoder)")
        if not isinstance(decoder, Sequential):
            raise TypeError(f"decoder must be a fastrnn.Sequential (an Embedding, one recurrent "
                            f"layer, an output Linear), got {type(decoder).__name__}")
        layers, recurrent = _recurrent_of(decoder, "decoder")
        if len(recurrent) != 1 or not isinstance(recurrent[0], RecurrentLayer):
            raise ValueError("decoder must hold exactly one recurrent layer, a fastrnn.RNN, "
                             "LSTM or GRU (for a deep decoder, one layer with num_layers > 1)")
        rnn = recurrent[0]
        if rnn.bidirectional:
            raise ValueError("decoder: its recurrent layer generates left to right and cannot "
                             "be bidirectional")
        at = layers.index(rnn)
        if at == len(layers) - 1:
            raise ValueError("decoder must end in an output layer over the target vocabulary "
                             "(a fastrnn.Linear after its recurrent layer)")
        self._decoder_before, self._decoder_after = layers[:at], layers[at + 1:]
        self.encoder, self.decoder = encoder, decoder
        last = self._encoder_layers[-1]
        self.summary_size = last.num_directions * last.hidden_size
        if attention is not None and attention not in SCORES:
            raise ValueError(f"attention must be None or one of {', '.join(map(repr, SCORES))}, "
                             f"got {attention!r:.80}")
        if rnn.dtype != last.dtype:
            raise TypeError(f"encoder and decoder must share one dtype, got {last.dtype} and "
                            f"{rnn.dtype}")
        self.start_token = check_int(start_token, "start_token", minimum=0)
        first = self._decoder_before[0] if self._decoder_before else None
        if isinstance(first, Embedding) and self.start_token >= first.num_embeddings:
            raise ValueError(f"start_token must be a token id of the decoder's Embedding, in "
                             f"[0, {first.num_embeddings}), got {self.start_token}")
        rng = check_random_state(seed)
        self.context = ContextRNN(rnn, self.summary_size, initial_state=initial_state,
                                  step_input=step_input, seed=rng)
        self.attention = (None if attention is None else
                          Attention(rnn.hidden_size, self.summary_size, score=attention,
                                    attention_size=attention_size, dtype=rnn.dtype, seed=rng))
        self.parts = {"encoder": encoder, "decoder": decoder}
        for name, part in (("context_initial", self.context.initial),
                           ("context_step", self.context.step),
                           ("attention", self.attention)):
            if part is not None:
                self.parts[name] = part
        self.training = True
        self._cache = None

    # -------------------------------------------------------- attributes
    @property
    def dtype(self) -> np.dtype:
        return self.context.dtype

    def train(self, mode: bool = True) -> Seq2Seq:
        """Training mode (dropout on) for the encoder and the decoder, or
        evaluation mode with ``mode=False``; returns self."""
        self.training = check_bool(mode, "mode")
        for part in (self.encoder, self.decoder):
            if hasattr(part, "train"):
                part.train(self.training)
        return self

    def eval(self) -> Seq2Seq:
        """Evaluation mode (dropout off); returns self."""
        return self.train(False)

    def __repr__(self) -> str:
        score = "" if self.attention is None else f", attention={self.attention.score!r}"
        return f"Seq2Seq({self.encoder!r}, {self.decoder!r}{score})"

    # ------------------------------------------------------------ passes
    def _encode(self, source, source_lengths):
        """(keys (S, B, C): the encoder's outputs, summary (B, C))."""
        keys, finals = self.encoder.forward(source, None, source_lengths)
        last = self._encoder_layers[-1]
        # a Sequential of several recurrent layers gives one state per layer
        several = isinstance(self.encoder, Sequential) and len(self.encoder.recurrent_layers) > 1
        state = finals[-1] if several else finals
        h_n = state[0] if last._has_cell else state
        if h_n.ndim != 3:
            raise ValueError("source must be batched: (S, B) tokens or (S, B, D) features")
        ND = last.num_directions
        summary = np.ascontiguousarray(h_n[-ND:].transpose(1, 0, 2)).reshape(h_n.shape[1], -1)
        return keys, summary

    def forward(self, source: ArrayLike, target_in: ArrayLike,
                source_lengths: Optional[ArrayLike] = None,
                target_lengths: Optional[ArrayLike] = None) -> np.ndarray:
        """The decoder's logits under teacher forcing.

        Parameters
        ----------
        source : array_like, (S, B) token ids (an encoder starting with an
            Embedding) or (S, B, D)
        target_in : array_like of int, (T, B)
            The decoder's inputs: the start token, then the true target
            tokens shifted by one (figure 10.5).
        source_lengths, target_lengths : array_like of int (B,), optional
            Valid steps of each source (>= 1 with attention) and target.

        Returns
        -------
        logits : ndarray (T, B, V); the steps past a target's length are
            not part of the model (a loss must skip them, as ``fit`` does).
        """
        keys, summary = self._encode(source, source_lengths)
        y = target_in
        for layer in self._decoder_before:
            y = layer.forward(y)
        if np.ndim(y) != 3 or np.shape(y)[1] != summary.shape[0]:
            raise ValueError(f"target_in must be (T, {summary.shape[0]}): the source's batch "
                             f"of {summary.shape[0]} sequences, time-major; got shape "
                             f"{np.shape(target_in)}")
        y, _ = self.context.forward(y, summary, target_lengths)
        if self.attention is not None:
            y = self.attention.forward(y, keys, source_lengths)
        for layer in self._decoder_after:
            y = layer.forward(y)
        self._cache = dict(summary_shape=summary.shape)
        return y

    __call__ = forward

    def backward(self, dlogits: ArrayLike) -> Optional[np.ndarray]:
        """Back-propagation of the last ``forward`` through the decoder, the
        attention, the context and the encoder (BPTT through both recurrent
        parts); parameter gradients are added into ``grads``.

        Returns
        -------
        dsource : None for token sources, else dL/dsource (S, B, D).
        """
        if self._cache is None:
            raise NotFittedError("backward called before forward: call forward first, then "
                                 "backward")
        grad = dlogits
        for layer in reversed(self._decoder_after):
            grad = layer.backward(grad)
        d_keys = None
        if self.attention is not None:
            grad, d_keys = self.attention.backward(grad)
        grad, d_summary = self.context.backward(grad)
        for layer in reversed(self._decoder_before):
            grad = layer.backward(grad)
        last = self._encoder_layers[-1]
        LD, ND, H = last.num_layers * last.num_directions, last.num_directions, last.hidden_size
        B = d_summary.shape[0]
        dh = np.zeros((LD, B, H), dtype=self.dtype)
        dh[LD - ND:] = d_summary.reshape(B, ND, H).transpose(1, 0, 2)
        d_state = (dh, np.zeros_like(dh)) if last._has_cell else dh
        if isinstance(self.encoder, Sequential):
            n = len(self.encoder.recurrent_layers)
            if n > 1:
                d_state = (None,) * (n - 1) + (d_state,)
        d_source, _ = self.encoder.backward(d_keys, d_state)
        return d_source

    # ---------------------------------------------------------- generation
    def generate(self, source: ArrayLike, *, max_length: int, end_token: Optional[int] = None,
                 method: str = "greedy", temperature: float = 1.0, beam_width: int = 4,
                 seed: SeedLike = None, source_lengths: Optional[ArrayLike] = None
                 ) -> list[np.ndarray]:
        """Decode free-running from each source (Goodfellow et al. (2016),
        sec. 10.2.2 and 10.4): the encoder reads the sources, the decoder
        starts from ``start_token`` in the state the summary sets and feeds
        back its own tokens, the whole batch in one call of the decoding
        loop of `fastrnn.generate_tokens` (the summary's per-step term as
        its constant input term, the attention as its readout). Runs in
        evaluation mode (dropout off); the parts' modes are restored after.

        Parameters
        ----------
        source : array_like, (S, B) token ids or (S, B, D)
        max_length : int
            Tokens to generate at most per sequence.
        end_token : int or None
            Stop a sequence after it generates this token (kept last).
        method : {"greedy", "sample", "beam"}
        temperature : float
            "sample" draws from softmax(logits / temperature).
        beam_width : int
            "beam"; 1 gives the greedy result.
        seed : None, int or Generator
            The draws of "sample".
        source_lengths : array_like of int (B,), optional
            Sources of different lengths, padded to S: the valid steps of
            each (as for ``forward``); the encoder reads each only over its
            own steps, and attention reads only those.

        Returns
        -------
        list of B 1-D int arrays, the generated tokens of each source.
        """
        embedding = self._decoder_before[0] if self._decoder_before else None
        extra = [p for p in self._decoder_before[1:] + self._decoder_after[:-1]
                 if not isinstance(p, Dropout)]
        output = self._decoder_after[-1]
        if not isinstance(embedding, Embedding) or extra or not isinstance(output, Linear):
            raise TypeError("generate needs a decoder Sequential(Embedding, RNN/LSTM/GRU, "
                            "Linear) (Dropout layers allowed): the loop feeds each token "
                            "back through the embedding")
        # every part's own mode, restored as it was (train() sets them alike)
        parts = (self, self.encoder, self.decoder) + tuple(self._encoder_layers) + tuple(
            self.decoder.layers)
        modes = [(p, p.training) for p in parts if isinstance(getattr(p, "training", None), bool)]
        self.eval()
        try:
            with no_grad():   # generation differentiates nothing
                keys, summary = self._encode(source, source_lengths)
        finally:
            for part, mode in modes:
                part.training = mode
        hx, terms = self.context.initial_conditions(summary)
        readout = None if self.attention is None else self.attention.reader(keys, source_lengths)
        start = np.full(summary.shape[0], self.start_token, dtype=np.intp)
        decoded = generate_tokens(embedding, [self.context.recurrent], output, start,
                                  states=[hx], max_length=max_length, end_token=end_token,
                                  method=method, temperature=temperature,
                                  beam_width=beam_width, seed=seed,
                                  input_term=None if terms is None else terms[0],
                                  readout=readout)
        return decoded.sequences()

    # ------------------------------------------------------------ training
    def fit(self, sources: ArrayLike, targets: ArrayLike, *,
            source_lengths: Optional[ArrayLike] = None,
            target_lengths: Optional[ArrayLike] = None,
            optimizer: Optional[Optimizer] = None, epochs: int = 10, batch_size: int = 32,
            callbacks: Iterable[Callable[[int, training_loop.History], Optional[bool]]] = (),
            seed: SeedLike = None, progress: bool = True) -> training_loop.History:
        """Fit by teacher forcing (Goodfellow et al. (2016), sec. 10.2.1):
        mini-batches of (source, target) pairs, the decoder fed the start
        token and then the true previous target, the softmax negative
        log-likelihood of every valid target token (eq. 10.5, averaged over
        the batch's valid tokens), an optimiser step per batch.

        Parameters
        ----------
        sources : array_like, (S, N) token ids or (S, N, D), time-major
        targets : array_like of int, (T, N): the tokens to predict, an end
            token included if generation is to stop at one.
        source_lengths, target_lengths : array_like of int (N,), optional
        optimizer : fastrnn.optim.Optimizer or None
            Default ``Adam(model, lr=1e-3)``; clipping (``clip_norm``,
            ``clip_value``) goes on the optimiser.
        epochs, batch_size : int
        callbacks : callables ``cb(epoch, history) -> bool``, called after
            each epoch; True stops training.
        seed : None, int or Generator
            The order of the pairs in each epoch.
        progress : bool

        Returns
        -------
        History with ``loss``, ``grad_norm`` and ``seconds`` per epoch.
        """
        targets = as_array(targets, "targets")
        if targets.dtype.kind not in "iu" or targets.ndim != 2:
            raise TypeError(f"targets must be integer token ids (T, N), got dtype "
                            f"{targets.dtype} and shape {targets.shape}")
        T, N = targets.shape
        if T == 0 or N == 0:
            raise ValueError(f"targets must hold at least one pair of at least one token, got "
                             f"shape {targets.shape}")
        sources = as_array(sources, "sources")
        if sources.ndim not in (2, 3) or sources.shape[1] != N:
            raise ValueError(f"sources must be (S, {N}) or (S, {N}, D), one per target, got "
                             f"shape {sources.shape}")
        S = sources.shape[0]
        source_lengths = _lengths(source_lengths, N, S, "source_lengths")
        target_lengths = _lengths(target_lengths, N, T, "target_lengths")
        epochs = check_int(epochs, "epochs", minimum=1)
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        progress = check_bool(progress, "progress")
        callbacks = training_loop.check_callbacks(callbacks)
        optimizer = training_loop.check_optimizer(self, optimizer)
        rng = check_random_state(seed)
        decoder_in = np.empty_like(targets)
        decoder_in[0] = self.start_token
        decoder_in[1:] = targets[:-1]
        history = training_loop.History(loss=[], grad_norm=[], seconds=[])
        n_batches = -(-N // batch_size)
        with Progress(epochs * n_batches, "fit", "batches", enabled=progress) as bar:
            for epoch in range(epochs):
                start = time.perf_counter()
                order = rng.permutation(N)
                total_loss = total_norm = 0.0
                for b in range(n_batches):
                    rows = order[b * batch_size:(b + 1) * batch_size]
                    # the batch's own longest source and target bound its steps
                    s_len, t_len = source_lengths[rows], target_lengths[rows]
                    S_b, T_b = int(s_len.max()), int(t_len.max())
                    optimizer.zero_grad()
                    logits = self.forward(sources[:S_b, rows], decoder_in[:T_b, rows],
                                          s_len, t_len)
                    value, grad = masked_nll(logits, targets[:T_b, rows], t_len)
                    self.backward(grad)
                    norm = optimizer.step()
                    total_loss += value
                    total_norm += norm if np.isfinite(norm) else 0.0
                    bar.update()
                    bar.set_postfix(f"loss {value:.4g}  |g| {norm:.3g}")
                history["loss"].append(total_loss / n_batches)
                history["grad_norm"].append(total_norm / n_batches)
                history["seconds"].append(time.perf_counter() - start)
                if any(cb(epoch, history) for cb in callbacks):
                    break
        return history

    # -- persistence (fastrnn.io) --
    # The encoder and the decoder are saved as they would be alone; the
    # parts the model built (the context's projections, the attention) by
    # their arrays, under their part names.
    def _save_config(self) -> dict[str, Any]:
        att = self.attention
        return {"encoder": io_format.part_config(self.encoder),
                "decoder": io_format.part_config(self.decoder),
                "attention": None if att is None else att.score,
                "attention_size": None if att is None else att.attention_size,
                "start_token": self.start_token,
                "initial_state": self.context.initial_state,
                "step_input": self.context.step_input}

    @classmethod
    def _from_saved(cls, config: dict[str, Any], arrays: Mapping[str, Any]) -> Seq2Seq:
        encoder = io_format.build_part(config.get("encoder"), arrays, "encoder")
        decoder = io_format.build_part(config.get("decoder"), arrays, "decoder")
        attention = config.get("attention")
        if attention is not None and attention not in SCORES:
            raise ValueError("the saved attention score is not one of "
                             f"{', '.join(map(repr, SCORES))}")
        size = config.get("attention_size")
        model = cls(encoder, decoder, attention=attention,
                    attention_size=None if size is None else io_format.config_int(
                        config, "attention_size"),
                    start_token=io_format.config_int(config, "start_token", 0, minimum=0),
                    initial_state=io_format.config_bool(config, "initial_state", True),
                    step_input=io_format.config_bool(config, "step_input", True))
        load_projections(model.parts, arrays, exclude=("encoder", "decoder"), owner="Seq2Seq")
        return model


io_format.register("Seq2Seq", Seq2Seq)


def _lengths(lengths, N, T, name):
    """Per-sequence step counts (N,) in [1, T]; all T for None."""
    if lengths is None:
        return np.full(N, T, dtype=np.intp)
    arr = as_array(lengths, name)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{name} must be integers, got dtype {arr.dtype}")
    if arr.shape != (N,):
        raise ValueError(f"{name} must have shape ({N},), got {arr.shape}")
    if arr.min() < 1 or arr.max() > T:
        raise ValueError(f"{name} must be in [1, {T}]")
    return arr.astype(np.intp)


def masked_nll(logits: np.ndarray, targets: np.ndarray, lengths: np.ndarray
               ) -> tuple[float, np.ndarray]:
    """The softmax negative log-likelihood (Goodfellow et al. (2016), eq.
    10.5) of the target tokens within each sequence's length, averaged over
    them, and its gradient (zero past each length). logits (T, B, V),
    targets (T, B), lengths (B,)."""
    valid = np.arange(logits.shape[0])[:, None] < lengths[None, :]
    value, grad_valid = losses.softmax_nll(logits[valid], targets[valid])
    grad = np.zeros_like(logits)
    grad[valid] = grad_valid
    return value, grad
