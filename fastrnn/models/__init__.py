"""Composite sequence models of Goodfellow et al. (2016), chapter 10, built
from fastrnn's layers."""
from fastrnn.models.attention import Attention
from fastrnn.models.context import ContextRNN

__all__ = ["Attention", "ContextRNN"]
