"""Plain NumPy references for the reservoir tests and benchmarks, one time
step at a time, straight from Goodfellow et al. (2016), eq. 10.7 (independent of fastrnn's
kernels)."""
import numpy as np

ACTS = {
    "tanh": np.tanh,
    "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),
    "relu": lambda a: np.maximum(a, 0.0),
    "identity": lambda a: a,
}


def esn_states(W, Win, bias, lr, U, x0, Wfb=None, Yprev=None, activation="tanh"):
    """x_t = (1 - lr) x_{t-1} + lr f(W x_{t-1} + Win u_t + Wfb y_{t-1} + b).

    U (T, D); x0 (N,); Yprev (T, O) the fed-back outputs (y_{t-1} at row t).
    Returns (T, N)."""
    f = ACTS[activation]
    x = np.array(x0, dtype=np.float64)
    out = np.empty((U.shape[0], x.shape[0]))
    for t in range(U.shape[0]):
        a = W @ x + Win @ U[t] + bias
        if Wfb is not None:
            a = a + Wfb @ Yprev[t]
        x = (1 - lr) * x + lr * f(a)
        out[t] = x
    return out


def esn_free_run(W, Win, bias, lr, Wfb, coef, intercept, U, x0, y0, activation="tanh"):
    """Closed loop: x_t from y_{t-1}, then y_t = coef^T x_t + intercept.
    Returns states (T, N) and outputs (T, O)."""
    f = ACTS[activation]
    x, y = np.array(x0, dtype=np.float64), np.array(y0, dtype=np.float64)
    xs, ys = [], []
    for t in range(U.shape[0]):
        x = (1 - lr) * x + lr * f(W @ x + Win @ U[t] + bias + Wfb @ y)
        y = coef.T @ x + intercept
        xs.append(x)
        ys.append(y)
    return np.array(xs), np.array(ys)


_KERNEL_ACTIVATIONS = {}


def kernel_activation(name):
    """fastrnn's own activation f, as the C loops compute it (its
    vectorised tanh and sigmoid are a few ulp from NumPy's), for references
    that must match a kernel to the bit. f(v) is one step of a reservoir with
    W = 0, Win = I, zero bias and lr = 1, which computes exactly f(0 + v)."""
    import scipy.sparse as sp

    from fastrnn import Reservoir

    def f(v):
        v = np.asarray(v, dtype=np.float64)
        n = v.size
        key = (name, n)
        if key not in _KERNEL_ACTIVATIONS:
            _KERNEL_ACTIVATIONS[key] = Reservoir(n, W=sp.csr_matrix((n, n)), Win=np.eye(n),
                                                 activation=name)
        res = _KERNEL_ACTIVATIONS[key]
        return res.run(v.reshape(1, n), np.zeros(n))[0].reshape(v.shape)
    return f


def csr_product(W, x):
    """W x for a CSR W, each row summed as the C reservoir loop sums it for
    one series: four partial sums over the row's nonzeros in blocks of four,
    the rest into the first, then (s0 + s1) + (s2 + s3)."""
    out = np.empty(W.shape[0])
    data, indices, indptr = W.data, W.indices, W.indptr
    for i in range(W.shape[0]):
        s = [0.0, 0.0, 0.0, 0.0]
        k, end = indptr[i], indptr[i + 1]
        while k + 4 <= end:
            for j in range(4):
                s[j] += data[k + j] * x[indices[k + j]]
            k += 4
        while k < end:
            s[0] += data[k] * x[indices[k]]
            k += 1
        out[i] = (s[0] + s[1]) + (s[2] + s[3])
    return out
