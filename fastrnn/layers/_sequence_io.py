"""Layout conversions shared by the single-layer recurrent layers that keep
their own loops (Clockwork, delays): time-major (T, B, D) inside, (B, T, D)
with ``batch_first`` or (T, D) unbatched outside, and states (1, B, H)."""
import numpy as np

from fastrnn._core.validation import as_float_array


class SequenceIO:
    """Mixin: needs ``self.dtype``, ``self.batch_first``, ``self.hidden_size``."""

    def _time_major(self, a, name, width):
        a = as_float_array(a, name, self.dtype, ndim=(2, 3))
        if a.shape[-1] != width:
            raise ValueError(f"{name} must have {width} features in its last dimension, "
                             f"got shape {a.shape}")
        if a.ndim == 2:
            return a[:, None, :], True
        if self.batch_first:
            return np.ascontiguousarray(a.transpose(1, 0, 2)), False
        return a, False

    def _external(self, a, unbatched):
        if unbatched:
            return a[:, 0, :]
        return np.ascontiguousarray(a.transpose(1, 0, 2)) if self.batch_first else a

    def _state_in(self, h, name, B, unbatched):
        """(B, H) from a user's (1, B, H) or (1, H) state; zeros for None."""
        H = self.hidden_size
        if h is None:
            return np.zeros((B, H), dtype=self.dtype)
        want = (1, H) if unbatched else (1, B, H)
        return as_float_array(h, name, self.dtype, shape=want).reshape(B, H)

    def _state_out(self, h, unbatched):
        H = self.hidden_size
        return h.reshape(1, H) if unbatched else h.reshape(1, -1, H)

    def _gradient_in(self, dy, T, B, unbatched):
        """dL/dy as a fresh time-major (T, B, H) array (zeros for None)."""
        H = self.hidden_size
        if dy is None:
            return np.zeros((T, B, H), dtype=self.dtype)
        d, _ = self._time_major(dy, "dy", H)
        if d.shape != (T, B, H):
            raise ValueError(f"dy must have the shape of the output, got {np.shape(dy)}")
        return d.copy()
