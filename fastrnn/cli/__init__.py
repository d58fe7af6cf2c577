"""The command line (``fastrnn`` or ``python -m fastrnn``) and what only it
uses: the demos, the quick benchmark, and the plain NumPy loops they compare
against."""
from fastrnn.cli.commands import main

__all__ = ["main"]
