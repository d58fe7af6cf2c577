"""Central finite differences for gradient checks (float64)."""
import numpy as np


def numerical_grad(f, x, eps=1e-6):
    """d f() / d x by central differences, perturbing x in place.

    f takes no argument and returns a scalar computed from the current x.
    """
    g = np.zeros_like(x, dtype=np.float64)
    flat = x.reshape(-1)
    gflat = g.reshape(-1)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        gflat[i] = (fp - fm) / (2 * eps)
    return g


def rel_error(a, b):
    """max |a - b| / max(|a|, |b|), the error measure of the gradient checks."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    scale = max(np.abs(a).max(initial=0.0), np.abs(b).max(initial=0.0), 1e-300)
    return np.abs(a - b).max(initial=0.0) / scale


def assert_gradients_match(loss, layer, *pairs, tol=1e-6):
    """Back-propagated gradients against central differences of ``loss()``:
    ``layer.grads[name]`` for each of ``layer.params`` (unless layer is
    None), and each (analytic gradient, array it is taken for) pair."""
    if layer is not None:
        for name, p in layer.params.items():
            assert rel_error(layer.grads[name], numerical_grad(loss, p)) < tol, name
    for i, (analytic, array) in enumerate(pairs):
        assert rel_error(analytic, numerical_grad(loss, array)) < tol, f"pair {i}"
