"""Composite sequence models built from the layers of `fastrnn.layers`
(Goodfellow et al. (2016), ch. 10): `Sequential`, layers in series."""
from fastrnn.models.sequential import Sequential
from fastrnn.models.attention import Attention
from fastrnn.models.context import ContextRNN
from fastrnn.models.seq2seq import Seq2Seq

__all__ = ["Sequential"]

# Free-running generation (Goodfellow et al. (2016), sec. 10.2.2).
from fastrnn.models.decode import Decoded, generate_tokens  # noqa: E402

__all__ += ["Decoded", "generate_tokens"]
__all__ += ["Attention", "ContextRNN", "Seq2Seq"]
