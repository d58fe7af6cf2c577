# cython: language_level=3
"""Time loops of the deep-transition RNN (Pascanu et al. (2014); Goodfellow
et al. (2016), sec. 10.5, fig. 10.14, middle and right).

The transition from h_{t-1} to h_t is an MLP of L tanh layers,

    z_1 = tanh(W_1 h_{t-1} + U x_t + b_1)
    z_k = tanh(W_k z_{k-1} + b_k)                          1 < k < L
    z_L = tanh(W_L z_{L-1} + S h_{t-1} + b_L)              (S: the skip, optional)
    h_t = z_L

One call runs the whole sequence without the GIL. The skeleton is that of
the other recurrent loops: U x_t + b_1 of all T steps is one GEMM before the
sweep (`project_inputs`); each step is L products (L + 1 with the skip) and
L activations; after the backward sweep every weight gradient is one GEMM
over all T steps, because the sweep keeps every layer's pre-activation
gradient. Layer 1's step is the tanh RNN's own (the recurrent product added
into the projected inputs, then the cell kernel ``fr_rnn_fwd``), so that a
transition of depth 1 gives fastrnn.RNN's BLAS loop bit for bit.

Ragged batches: rows sorted by decreasing length, ``batch_sizes[t]`` of them
running at step t (a prefix); rows past their end are neither read nor
written.

Arguments are marked IN (read), OUT (written), INOUT (both) and WORK.
"""
import numpy as np
from cython cimport floating
from libc.stdlib cimport malloc, free

from fastrnn._core.blas cimport gemm
from fastrnn._core.kernels cimport (
    FR_ACT_TANH, fr_fp_enter, fr_fp_leave, fill_rows, rnn_activation_backward,
)
from fastrnn._core.matmul cimport rows_times, rows_times_matrix_acc, rows_times_transposed
from fastrnn.layers._cell_kernels cimport rnn_forward
from fastrnn.layers._loops cimport input_side_gradients, project_inputs


def deep_forward(tuple weights, const floating[:, :, ::1] x, floating[:, :, ::1] hs,
                 floating[:, :, :, ::1] zs, floating[:, :, ::1] pre,
                 const int[::1] batch_sizes):
    """The forward sweep over T steps.

    Parameters
    ----------
    weights : tuple of arrays, IN
        (w_ih (H, D): U, w_hh (L, H, H): W_1..W_L, bias (L, H): b_1..b_L,
        w_skip (H, H): S, or (0, 0) without the skip), in the dtype of x.
    x : (T, B, D), IN
        Rows sorted by decreasing length.
    hs : (T + 1, B, H), INOUT
        hs[0] = h_0 on entry; hs[t + 1] = h_t for the rows running at step t.
    zs : (L - 1, T, B, H), OUT
        zs[k - 1, t] = z_k at step t, the inner layers (k < L).
    pre : (T, B, H), WORK
        Layer 1's pre-activations of every step, then each step's inner
        layers' pre-activations.
    batch_sizes : (T,) int32, IN
    """
    cdef const floating[:, ::1] w_ih = weights[0]
    cdef const floating[:, :, ::1] w_hh = weights[1]
    cdef const floating[:, ::1] bias = weights[2]
    cdef const floating[:, ::1] w_skip = weights[3]
    cdef int T = x.shape[0], B = x.shape[1], D = x.shape[2]
    cdef int H = w_ih.shape[0], L = w_hh.shape[0]
    cdef bint skip = w_skip.shape[0] > 0
    cdef int t, k, rows
    cdef floating *source
    cdef floating *target
    cdef floating *scratch = NULL
    cdef unsigned int fpstate
    if T == 0 or B == 0:
        return
    with nogil:
        if B > 1:
            # the transposed per-step GEMM of `rows_times_transposed` (NULL
            # when out of memory: the direct GEMM, same sums)
            scratch = <floating *> malloc(<size_t> B * H * sizeof(floating))
        fpstate = fr_fp_enter()
        project_inputs(T * B, D, H, &x[0, 0, 0], &w_ih[0, 0], &bias[0, 0], &pre[0, 0, 0])
        for t in range(T):
            rows = batch_sizes[t]
            if rows == 0:
                break
            target = &hs[t + 1, 0, 0] if L == 1 else &zs[0, t, 0, 0]
            rows_times_transposed(rows, H, H, &w_hh[0, 0, 0], &hs[t, 0, 0], <floating> 1,
                                  &pre[t, 0, 0], H, scratch)
            rnn_forward(False, rows, H, &pre[t, 0, 0], target)
            for k in range(1, L):
                source = target
                target = &hs[t + 1, 0, 0] if k == L - 1 else &zs[k, t, 0, 0]
                # layer 1's pre-activations of step t are spent: reuse them
                fill_rows(&pre[t, 0, 0], &bias[k, 0], rows, H)
                rows_times_transposed(rows, H, H, &w_hh[k, 0, 0], source, <floating> 1,
                                      &pre[t, 0, 0], H, scratch)
                if skip and k == L - 1:
                    rows_times_transposed(rows, H, H, &w_skip[0, 0], &hs[t, 0, 0],
                                          <floating> 1, &pre[t, 0, 0], H, scratch)
                rnn_forward(False, rows, H, &pre[t, 0, 0], target)
        fr_fp_leave(fpstate)
        free(scratch)


def deep_backward(tuple weights, tuple saved, floating[:, :, ::1] da,
                  floating[:, :, :, ::1] dz, tuple gradients, tuple param_grads,
                  const int[::1] batch_sizes, double clip_hidden):
    """BPTT for `deep_forward` (Goodfellow et al. (2016), sec. 10.2.2,
    through each step's MLP).

    Parameters
    ----------
    weights : tuple of arrays, IN
        As for `deep_forward`.
    saved : tuple of arrays, IN
        (x, hs, zs) of the forward sweep.
    da : (T, B, H), INOUT
        dL/dh_t from above on entry (zero past each row's end, dL/dh_n added
        at its last step); the pre-activation gradient of layer L on exit.
    dz : (L - 1, T, B, H), OUT
        The pre-activation gradients of the inner layers (zero on entry
        when rows end early: the weight-gradient GEMMs read every row).
    gradients : tuple of arrays, OUT
        (dx (T, B, D), dh0 (B, H)).
    param_grads : tuple of arrays, INOUT (accumulated into)
        (g_ih (H, D), g_hh (L, H, H), g_bias (L, H), g_skip (H, H) or (0, 0)).
    batch_sizes : (T,) int32, IN
    clip_hidden : float
        Clip dL/dh_t to [-clip, clip] at every step when > 0.
    """
    cdef const floating[:, ::1] w_ih = weights[0]
    cdef const floating[:, :, ::1] w_hh = weights[1]
    cdef const floating[:, ::1] w_skip = weights[3]
    cdef const floating[:, :, ::1] x = saved[0]
    cdef const floating[:, :, ::1] hs = saved[1]
    cdef const floating[:, :, :, ::1] zs = saved[2]
    cdef floating[:, :, ::1] dx = gradients[0]
    cdef floating[:, ::1] dh0 = gradients[1]
    cdef floating[:, ::1] g_ih = param_grads[0]
    cdef floating[:, :, ::1] g_hh = param_grads[1]
    cdef floating[:, ::1] g_bias = param_grads[2]
    cdef floating[:, ::1] g_skip = param_grads[3]
    cdef floating clip = clip_hidden
    cdef int T = x.shape[0], B = x.shape[1], D = x.shape[2]
    cdef int H = w_ih.shape[0], L = w_hh.shape[0]
    cdef int TB = T * B
    cdef bint skip = w_skip.shape[0] > 0
    cdef int t, k, rows
    cdef floating *carry
    cdef floating *e
    cdef floating *e_below
    cdef unsigned int fpstate
    if T == 0 or B == 0:
        return
    cdef floating[::1] ones = np.ones(TB, dtype=np.float32 if floating is float else np.float64)
    with nogil:
        fpstate = fr_fp_enter()
        for t in range(T - 1, -1, -1):
            rows = batch_sizes[t]
            if rows == 0:
                continue
            carry = &dh0[0, 0] if t == 0 else &da[t - 1, 0, 0]
            e = &da[t, 0, 0]
            rnn_activation_backward(FR_ACT_TANH, e, &hs[t + 1, 0, 0], <Py_ssize_t> rows * H,
                                    clip)
            if skip:
                rows_times_matrix_acc(rows, H, H, e, &w_skip[0, 0], carry)
            for k in range(L - 1, 0, -1):
                # layer k + 1's gradient back through W_{k+1} into layer k's
                e_below = &dz[k - 1, t, 0, 0]
                rows_times(rows, H, H, &w_hh[k, 0, 0], e, H, <floating> 0, e_below, NULL)
                rnn_activation_backward(FR_ACT_TANH, e_below, &zs[k - 1, t, 0, 0],
                                        <Py_ssize_t> rows * H, <floating> 0)
                e = e_below
            rows_times_matrix_acc(rows, H, H, e, &w_hh[0, 0, 0], carry)
        # every layer's weight gradient over all T steps at once
        e = &da[0, 0, 0] if L == 1 else &dz[0, 0, 0, 0]
        gemm(True, False, H, H, TB, <floating> 1, e, H, &hs[0, 0, 0], H, <floating> 1,
             &g_hh[0, 0, 0], H)
        input_side_gradients(TB, D, H, e, &x[0, 0, 0], &w_ih[0, 0], &ones[0], &g_ih[0, 0],
                             &g_bias[0, 0], &dx[0, 0, 0])
        for k in range(1, L):
            e = &da[0, 0, 0] if k == L - 1 else &dz[k, 0, 0, 0]
            gemm(True, False, H, H, TB, <floating> 1, e, H, &zs[k - 1, 0, 0, 0], H,
                 <floating> 1, &g_hh[k, 0, 0], H)
            gemm(True, False, 1, H, TB, <floating> 1, &ones[0], 1, e, H, <floating> 1,
                 &g_bias[k, 0], H)
        if skip:
            gemm(True, False, H, H, TB, <floating> 1, &da[0, 0, 0], H, &hs[0, 0, 0], H,
                 <floating> 1, &g_skip[0, 0], H)
        fr_fp_leave(fpstate)
