"""Content-based soft attention over the encoder's states (Goodfellow et al.
(2016), sec. 10.7.5 and figure 10.18; Bahdanau et al. (2015); Luong et al.
(2015)), placed after the decoder's recurrent layer as in Luong et al.'s
global attention, so that a teacher-forced decoder still runs its whole
sequence in one recurrent call.

At each decoder step t, with the decoder state s_t (the query) and the
encoder states h_1..h_S (the keys, which are also the values):

    e_ti    = score(s_t, h_i)                      for i < the source length
    alpha_t = softmax(e_t) over the valid source positions
    c_t     = sum_i alpha_ti h_i
    a_t     = tanh(W_c [c_t; s_t])                 (Luong et al. (2015), eq. 5)

and a_t goes on to the output layer. The scores are ``"additive"``,
v^T tanh(W_q s_t + W_k h_i) (Bahdanau et al. (2015)), or ``"dot"``,
s_t . h_i / sqrt(H) (Luong et al.'s dot score, scaled as Vaswani et al.
(2017) do so that the softmax does not saturate as H grows: the scale is
part of the model, not an option).
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

import numpy as np
from numpy.typing import ArrayLike, DTypeLike

from fastrnn._core.validation import (
    NotFittedError, SeedLike, as_float_array, check_choice, check_dtype, check_lengths,
    check_random_state,
)
from fastrnn.io import format as io_format
from fastrnn.layers.base import ParameterOwner, check_parameter_memory, check_size
from fastrnn.models import _attention

SCORES = ("additive", "dot")


class Attention(ParameterOwner):
    """Global soft attention of decoder states over encoder states, with the
    attentional output layer of Luong et al. (2015).

    Parameters
    ----------
    query_size : int
        Hq, the decoder state size; the output has this size too, so an
        output layer over the decoder states reads the attentional states
        unchanged.
    key_size : int
        Hk, the encoder state size (both directions of a bidirectional one).
        ``score="dot"`` needs ``key_size == query_size``.
    score : {"additive", "dot"}
        The alignment score (see the module's description).
    attention_size : int or None
        A, the width of the additive score's hidden layer (default
        ``query_size``); not used by ``"dot"``.
    dtype : numpy.float32 or numpy.float64
    seed : None, int or numpy.random.Generator
        Initialisation: uniform in +-1/sqrt(fan-in) per matrix, as
        ``torch.nn.Linear``.

    Attributes
    ----------
    params, grads : dict
        ``output_weight`` (Hq, Hk + Hq), W_c over [c_t; s_t]; for the
        additive score also ``query_weight`` (A, Hq), ``key_weight`` (A, Hk)
        and ``score_weight`` (A,), the v of the score.
    attention_weights_ : ndarray (T, B, S)
        alpha of the last ``forward``: row [t, b] is the distribution of
        decoder step t of sequence b over its source positions (0 past its
        source length), for plotting.
    """

    _config_names = ("query_size", "key_size", "score", "attention_size", "dtype")

    def __init__(self, query_size: int, key_size: int, *, score: str = "additive",
                 attention_size: Optional[int] = None, dtype: DTypeLike = np.float32,
                 seed: SeedLike = None) -> None:
        self.query_size = check_size(query_size, "query_size")
        self.key_size = check_size(key_size, "key_size")
        self.score = check_choice(score, "score", SCORES)
        if score == "dot":
            if self.key_size != self.query_size:
                raise ValueError(f"score='dot' compares queries and keys directly: key_size "
                                 f"({self.key_size}) must equal query_size ({self.query_size});"
                                 f" use score='additive' for different sizes")
            if attention_size is not None:
                raise ValueError("attention_size applies to score='additive' only")
            self.attention_size = None
        else:
            self.attention_size = (self.query_size if attention_size is None
                                   else check_size(attention_size, "attention_size"))
        self.dtype = check_dtype(dtype)
        Hq, Hk, A = self.query_size, self.key_size, self.attention_size
        shapes = {"output_weight": (Hq, Hk + Hq)}
        if A is not None:
            shapes.update(query_weight=(A, Hq), key_weight=(A, Hk), score_weight=(A,))
        check_parameter_memory(sum(int(np.prod(s)) for s in shapes.values()), len(shapes),
                               self.dtype.itemsize, repr(self))
        rng = check_random_state(seed)
        params = {}
        for name, shape in shapes.items():
            k = 1.0 / np.sqrt(shape[-1])
            params[name] = rng.uniform(-k, k, shape).astype(self.dtype)
        self._init_params(params)
        self._cache = None
        self.attention_weights_ = None

    # ------------------------------------------------------------ checks
    def _checked(self, queries, keys, key_lengths):
        """(Q (B, T, Hq), K (B, S, Hk), lengths (B,) intp), batch-major
        copies of the time-major inputs."""
        queries = as_float_array(queries, "queries", self.dtype, ndim=3)
        keys = as_float_array(keys, "keys", self.dtype, ndim=3)
        T, B, Hq = queries.shape
        S = keys.shape[0]
        if Hq != self.query_size:
            raise ValueError(f"queries must be (T, B, {self.query_size}) (query_size), got "
                             f"shape {queries.shape}")
        if keys.shape[1:] != (B, self.key_size):
            raise ValueError(f"keys must be (S, {B}, {self.key_size}) (source steps, the "
                             f"queries' batch, key_size), got shape {keys.shape}")
        if S == 0:
            raise ValueError("keys must hold at least one source position (S >= 1)")
        if key_lengths is None:
            lengths = np.full(B, S, dtype=np.intp)
        else:
            lengths = check_lengths(key_lengths, "key_lengths", B, 1, S,
                                    ": every query attends to at least one source position")
        return (np.ascontiguousarray(queries.transpose(1, 0, 2)),
                np.ascontiguousarray(keys.transpose(1, 0, 2)), lengths)

    # ----------------------------------------------------------- forward
    def forward(self, queries: ArrayLike, keys: ArrayLike,
                key_lengths: Optional[ArrayLike] = None) -> np.ndarray:
        """The attentional states a_t for every decoder step.

        Parameters
        ----------
        queries : array_like (T, B, query_size), time-major decoder states
        keys : array_like (S, B, key_size), time-major encoder states
        key_lengths : array_like of int (B,), optional
            Valid source positions of each sequence, in [1, S]; positions
            past them get no weight.

        Returns
        -------
        ndarray (T, B, query_size)
        """
        self._check_arrays()
        Q, K, lengths = self._checked(queries, keys, key_lengths)
        out, self._cache = self._attend(Q, K, lengths, self._projected_keys(K))
        self.attention_weights_ = self._cache["alpha"].transpose(1, 0, 2).copy()
        return np.ascontiguousarray(out.transpose(1, 0, 2))

    def _projected_keys(self, K):
        """W_k h_i of every key (B, S, A), or None for the dot score."""
        if self.score == "dot":
            return None
        return np.ascontiguousarray(K @ self.params["key_weight"].T)

    def _attend(self, Q, K, lengths, k_proj):
        """The attentional states (B, T, Hq) of batch-major queries Q
        (B, T, Hq) over keys K (B, S, Hk) with their projections k_proj, and
        what `backward` reads."""
        B, T, Hq = Q.shape
        S = K.shape[1]
        p, dt = self.params, self.dtype
        scores = np.empty((B, T, S), dtype=dt)
        if self.score == "dot":
            np.matmul(Q, K.transpose(0, 2, 1), out=scores)
            scores *= dt.type(1.0 / np.sqrt(Hq))
            q_proj = None
        else:
            q_proj = np.ascontiguousarray(Q @ p["query_weight"].T)
            _attention.additive_scores(q_proj, k_proj, p["score_weight"], lengths, scores)
        alpha = np.empty_like(scores)
        _attention.masked_softmax(scores, lengths, alpha)
        joined = np.empty((B, T, self.key_size + Hq), dtype=dt)
        np.matmul(alpha, K, out=joined[:, :, :self.key_size])
        joined[:, :, self.key_size:] = Q
        out = np.tanh(joined @ p["output_weight"].T)
        return out, dict(Q=Q, K=K, lengths=lengths, q_proj=q_proj, k_proj=k_proj,
                         alpha=alpha, joined=joined, out=out)

    def reader(self, keys: ArrayLike, key_lengths: Optional[ArrayLike] = None
               ) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
        """A one-step attention read over fixed keys, for free-running
        decoding (the ``readout`` of `fastrnn.generate_tokens`): keys
        (S, B, key_size) are checked and projected once, and the returned
        ``read(queries (n, query_size), rows (n,)) -> (n, query_size)``
        attends each query over the keys of its batch row ``rows[j]``,
        computing what `forward` computes at that step (nothing is kept
        for `backward`)."""
        self._check_arrays()
        B = np.shape(keys)[1] if np.ndim(keys) == 3 else 0
        _, K, lengths = self._checked(np.zeros((0, B, self.query_size)), keys, key_lengths)
        k_proj = self._projected_keys(K)

        def read(queries: np.ndarray, rows: np.ndarray) -> np.ndarray:
            Q = np.ascontiguousarray(queries, dtype=self.dtype)[:, None, :]
            out, _ = self._attend(Q, np.ascontiguousarray(K[rows]),
                                  np.ascontiguousarray(lengths[rows]),
                                  None if k_proj is None else np.ascontiguousarray(k_proj[rows]))
            return out[:, 0]

        return read

    __call__ = forward

    # ---------------------------------------------------------- backward
    def backward(self, dout: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
        """Gradients for the last ``forward`` from dL/da (T, B, query_size);
        the parameter gradients are added into ``grads``.

        Returns
        -------
        dqueries : ndarray (T, B, query_size)
        dkeys : ndarray (S, B, key_size)
        """
        if self._cache is None:
            raise NotFittedError("backward called before forward: call forward first, then "
                                 "backward")
        self._check_arrays(grads=True)
        c = self._cache
        Q, K, lengths, alpha, joined, out = (c["Q"], c["K"], c["lengths"], c["alpha"],
                                             c["joined"], c["out"])
        B, T, Hq = Q.shape
        Hk, dt = self.key_size, self.dtype
        p, g = self.params, self.grads
        dout = as_float_array(dout, "dout", dt, shape=(T, B, Hq)).transpose(1, 0, 2)
        d_pre = dout * (1 - out * out)
        g["output_weight"] += d_pre.reshape(-1, Hq).T @ joined.reshape(-1, Hk + Hq)
        d_joined = d_pre @ p["output_weight"]
        d_context = np.ascontiguousarray(d_joined[:, :, :Hk])
        dQ = np.ascontiguousarray(d_joined[:, :, Hk:])
        dK = alpha.transpose(0, 2, 1) @ d_context
        d_alpha = np.ascontiguousarray(d_context @ K.transpose(0, 2, 1))
        d_scores = np.empty_like(d_alpha)
        _attention.masked_softmax_backward(alpha, d_alpha, lengths, d_scores)
        if self.score == "dot":
            scale = dt.type(1.0 / np.sqrt(Hq))
            dQ += (d_scores @ K) * scale
            dK += (d_scores.transpose(0, 2, 1) @ Q) * scale
        else:
            q_proj, k_proj = c["q_proj"], c["k_proj"]
            dq_proj = np.empty_like(q_proj)
            dk_proj = np.empty_like(k_proj)
            _attention.additive_scores_backward(q_proj, k_proj, p["score_weight"], lengths,
                                                d_scores, dq_proj, dk_proj,
                                                g["score_weight"])
            A = self.attention_size
            g["query_weight"] += dq_proj.reshape(-1, A).T @ Q.reshape(-1, Hq)
            g["key_weight"] += dk_proj.reshape(-1, A).T @ K.reshape(-1, Hk)
            dQ += dq_proj @ p["query_weight"]
            dK += dk_proj @ p["key_weight"]
        return (np.ascontiguousarray(dQ.transpose(1, 0, 2)),
                np.ascontiguousarray(dK.transpose(1, 0, 2)))

    def __repr__(self) -> str:
        size = "" if self.attention_size is None else f", attention_size={self.attention_size}"
        return (f"Attention({self.query_size}, {self.key_size}, score={self.score!r}{size}, "
                f"dtype={self.dtype.name})")

    # -- persistence (fastrnn.io) --
    _saved_config_names = ("query_size", "key_size", "score", "attention_size", "dtype")

    @classmethod
    def _saved_shapes(cls, config: dict[str, Any], arrays: Mapping[str, Any]
                      ) -> dict[str, tuple[int, ...]]:
        Hq = io_format.config_int(config, "query_size")
        Hk = io_format.config_int(config, "key_size")
        shapes = {"output_weight": (Hq, Hk + Hq)}
        if config.get("score") == "additive":
            A = io_format.config_int(config, "attention_size")
            shapes.update(query_weight=(A, Hq), key_weight=(A, Hk), score_weight=(A,))
        return shapes


io_format.register("Attention", Attention)
