"""Reservoir computing: the echo state reservoir, its readouts and the ESN
(Jaeger 2001; Lukoševičius 2012; Goodfellow et al. (2016), sec. 10.8).

``reservoir.py`` holds the reservoir (its matrices, checks, and the open and
closed loops), ``readout.py`` the linear readouts (streamed ridge regression,
recursive least squares), ``esn.py`` the model joining them, which runs the
closed loop through the reservoir's package-internal ``_run_closed_loop``;
``generators.py`` the matrices other than the default random sparse W.
Every loop is one call of ``_reservoir.run`` into the one C step of
``csrc/reservoir`` (declared in ``kernels.pxd``); the readouts' products are
``_readout.pyx``. ``nvar.py`` holds next-generation reservoir computing
(Gauthier et al. 2021), its feature and closed loops in ``_nvar.pyx``.
``compose.py`` composes reservoirs in series and in parallel (``ReservoirGraph``,
``DeepESN``) read by named readouts, any of them an ``EstimatorReadout``
(``readout.py``) around a scikit-learn estimator.
``force.py`` holds FORCE learning (Sussillo & Abbott 2009), its loop in
``_force.pyx`` (the C reservoir loop and the RLS step of ``_rls.pxd``);
``plasticity.py`` the reservoir with intrinsic plasticity (Schrauwen et al.
2008), its loop in ``_plasticity.pyx`` over ``csrc/reservoir/fr_plasticity.c``.
``classification.py`` the fixed-size representations of whole series for
classification (Bianchi et al. 2020).
"""
from fastrnn.reservoir.esn import ESN
from fastrnn.reservoir import generators
from fastrnn.reservoir.nvar import NVAR, NVARForecaster
from fastrnn.reservoir.classification import ESNSequenceEncoder
from fastrnn.reservoir.readout import LMS, RLS, Ridge
from fastrnn.reservoir.reservoir import Reservoir, spectral_radius
from fastrnn.reservoir.compose import DeepESN, ReservoirGraph
from fastrnn.reservoir.readout import EstimatorReadout
from fastrnn.reservoir.force import FORCE
from fastrnn.reservoir.plasticity import IPReservoir

__all__ = ["Reservoir", "ESN", "Ridge", "RLS", "LMS", "NVAR", "NVARForecaster", "generators",
           "spectral_radius", "ReservoirGraph", "DeepESN", "EstimatorReadout", "FORCE",
           "IPReservoir", "ESNSequenceEncoder"]
