"""``python -m fastrnn``: the command line of ``fastrnn/cli/``.

Without arguments it runs the demos of the README, on built-in data sets:
first a tanh RNN trained by BPTT (fastrnn/cli/demo.py), then an echo state
network on the Mackey-Glass series (fastrnn/cli/demo_esn.py). Each prints what it
did, its accuracy and its speed against a plain NumPy loop. ``python -m
fastrnn --help`` lists the other subcommands (fit, predict, bench, demo).
"""
import sys

from fastrnn.cli import main

if __name__ == "__main__":
    sys.exit(main())
