# cython: language_level=3
"""The intrinsic-plasticity loop of `fastrnn.IPReservoir` (Schrauwen et al.
2008; Triesch 2005): one C call (``fr_ip_run`` of
csrc/reservoir/fr_plasticity.h) runs all steps of one series without the
GIL, adapting each unit's gain and bias after every step, or with them
fixed.
"""
from cython cimport floating
from libc.stdint cimport int32_t

from fastrnn.reservoir.kernels cimport FR_RES_FLOAT32, FR_RES_FLOAT64


cdef extern from "fr_plasticity.h" nogil:
    ctypedef struct fr_ip_model:
        int precision
        int activation
        Py_ssize_t units
        Py_ssize_t inputs
        const void *w_data
        const int32_t *w_indices
        const int32_t *w_indptr
        const void *w_dense
        const void *w_in
        const void *bias
        const void *leak

    ctypedef struct fr_ip_series:
        Py_ssize_t steps
        const void *u
        void *states
        void *internal
        void *state
        void *gain
        void *offset

    ctypedef struct fr_ip_rule:
        int adapt
        double mu
        double sigma
        double learning_rate

    void fr_ip_run(const fr_ip_model *model, const fr_ip_series *series, const fr_ip_rule *rule)


def run(int activation, w_csr, w_dense, const floating[:, ::1] w_in,
        const floating[::1] bias, const floating[::1] leak, const floating[:, ::1] u,
        floating[:, ::1] states, floating[::1] internal, floating[::1] state,
        floating[::1] gain, floating[::1] offset, rule=None):
    """Run T steps of one series, adapting ``gain`` and ``offset`` when a rule
    is given.

    The arrays are trusted: `fastrnn.IPReservoir` checks and lays them out.

    Parameters
    ----------
    activation : int, IN
        FR_RES_TANH or FR_RES_SIGMOID (fastrnn/reservoir/_reservoir.pyx).
    w_csr : (data, indices, indptr) or None, IN
        W as CSR (int32 indices), or None with ``w_dense`` (N, N).
    w_in : (N, D), IN
    bias, leak : (N,), IN
    u : (T, D), IN
    states : (T, N), OUT
        x_1 .. x_T.
    internal, state : (N,), IN/OUT
        r and x: at step 0 on entry, at step T on exit.
    gain, offset : (N,), IN/OUT
        a and b.
    rule : (mu, sigma, learning_rate) or None, IN
        None: a and b stay fixed.
    """
    cdef fr_ip_model model
    cdef fr_ip_series series
    cdef fr_ip_rule c_rule
    cdef const floating[::1] w_data
    cdef const int32_t[::1] w_indices
    cdef const int32_t[::1] w_indptr
    cdef const floating[:, ::1] dense
    if u.shape[0] == 0:
        return
    model.precision = FR_RES_FLOAT32 if floating is float else FR_RES_FLOAT64
    model.activation = activation
    model.units = state.shape[0]
    model.inputs = u.shape[1]
    model.w_data = NULL
    model.w_indices = NULL
    model.w_indptr = NULL
    model.w_dense = NULL
    model.w_in = &w_in[0, 0] if model.inputs > 0 else NULL
    model.bias = &bias[0]
    model.leak = &leak[0]
    if w_csr is None:
        dense = w_dense
        model.w_dense = &dense[0, 0]
    else:
        w_data, w_indices, w_indptr = w_csr
        model.w_indptr = &w_indptr[0]
        if w_data.shape[0] > 0:
            model.w_data = &w_data[0]
            model.w_indices = &w_indices[0]
    series.steps = u.shape[0]
    series.u = &u[0, 0] if model.inputs > 0 else NULL
    series.states = &states[0, 0]
    series.internal = &internal[0]
    series.state = &state[0]
    series.gain = &gain[0]
    series.offset = &offset[0]
    c_rule.adapt = rule is not None
    c_rule.mu = c_rule.sigma = c_rule.learning_rate = 0.0
    if rule is not None:
        c_rule.mu, c_rule.sigma, c_rule.learning_rate = rule
    with nogil:
        fr_ip_run(&model, &series, &c_rule)
