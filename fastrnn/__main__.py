"""``python -m fastrnn``: the demos of the README, on built-in data sets.

First a tanh RNN trained by BPTT (fastrnn/demo.py), then an echo state
network on the Mackey-Glass series (fastrnn/demo_esn.py). Each prints what it
did, its accuracy and its speed against a plain NumPy loop.
"""
from fastrnn.demo import run_demo
from fastrnn.demo_esn import run_demo as run_esn_demo

if __name__ == "__main__":
    run_demo()
    print()
    run_esn_demo()
