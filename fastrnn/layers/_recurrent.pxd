# cython: language_level=3
"""What fastrnn/layers/_recurrent.pyx shares with the other loops: one time
step of a gated cell for a block of rows (the recurrent product and the
fused cell kernel), so that a loop elsewhere (the decoder of
fastrnn/models/_decode.pyx) steps a layer exactly as the layer's own sweeps
and `step` do; and the switch of the BLAS to a few threads around a loop of
small per-step products (one switch for all loops, installed once)."""
from cython cimport floating


cdef void _forward_step(
        int kind, int n, int H, const floating *w_hh, const floating *b_hn,
        const floating *peep, floating *gates, floating *recurrent, const floating *h_prev,
        const floating *h_in, floating *h, const floating *c_prev, floating *c,
        floating *reset_hidden, floating *scratch) noexcept nogil


cdef int _steps_begin(int step_threads) noexcept nogil
cdef void _steps_end(int entered) noexcept nogil
