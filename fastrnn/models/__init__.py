"""Composite sequence models built from the layers of `fastrnn.layers`
(Goodfellow et al. (2016), ch. 10): `Sequential`, layers in series
(``sequential.py``); stacks whose every layer reaches the output
(``stack.py``); recursive networks over trees (``recursive.py``, its loops in
``_recursive.pyx``); context conditioning (``context.py``), attention
(``attention.py``) and the encoder-decoder (``seq2seq.py``); free-running
generation (``decode.py``, its loop in ``_decode.pyx``)."""
from fastrnn.models.recursive import RecursiveNet, TreeBatch
from fastrnn.models.sequential import Sequential
from fastrnn.models.stack import StackedRNN
from fastrnn.models.attention import Attention
from fastrnn.models.context import ContextRNN
from fastrnn.models.seq2seq import Seq2Seq
from fastrnn.models.decode import Decoded, generate_tokens

__all__ = ["Sequential", "StackedRNN", "RecursiveNet", "TreeBatch", "Decoded",
           "generate_tokens", "Attention", "ContextRNN", "Seq2Seq"]
