"""Reservoir computing: the echo state reservoir, its readouts and the ESN.

``reservoir.py`` holds the reservoir (its matrices, checks, and the open and
closed loops), ``readout.py`` the linear readouts (streamed ridge regression,
recursive least squares), ``esn.py`` the model joining them. The step loops
are ``_reservoir.pyx`` over the C step of ``csrc/reservoir``; the readouts'
products and solves are ``_readout.pyx``.
"""
from fastrnn.reservoir.esn import ESN
from fastrnn.reservoir.readout import RLS, Ridge
from fastrnn.reservoir.reservoir import Reservoir, spectral_radius

__all__ = ["Reservoir", "ESN", "Ridge", "RLS", "spectral_radius"]
