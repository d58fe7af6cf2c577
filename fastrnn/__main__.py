"""``python -m fastrnn``: the demo of the README (see fastrnn/demo.py)."""
from fastrnn.demo import run_demo

if __name__ == "__main__":
    run_demo()
