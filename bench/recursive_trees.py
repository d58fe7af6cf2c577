"""A recursive network against a recurrent one on sentiment-like trees.

    python bench/recursive_trees.py [--quick] [--train 4000] [--epochs 12]

Synthetic phrases with a sign to propagate (a toy of Socher et al. (2013)'s
sentiment treebank): a leaf is a positive word (+1), a negative word (-1) or
a neutral one (0); a phrase (not, P) has the opposite sign of P, and a phrase
(P, Q) the sign of P + Q. The label is the sign of the whole sentence, three
classes. The meaning is in the tree: "not" negates its sibling phrase,
whatever its length.

Two models see the same sentences, trained by Adam on the same batches:

- ``fastrnn.RecursiveNet`` over the binary trees (Goodfellow et al. (2016),
  sec. 10.6), token leaves through its embedding, softmax on the root;
- a ``fastrnn.LSTM`` over the same tokens as a sequence, with brackets
  around every phrase (so the sequence holds the whole tree), one-hot
  inputs, softmax on its final state.

Printed: test accuracy of each (on sentences of the training lengths and on
longer ones), training time, and the forward time over the test set by
bench/timing.py's rule. Figures depend on the machine and its load.
"""
import argparse
import time

import numpy as np

import fastrnn
from timing import engines_ms, rule

POSITIVE, NEGATIVE, NEUTRAL = (0, 1, 2), (3, 4, 5), (6, 7)
NOT = 8
OPEN, CLOSE = 9, 10     # the sequence model's brackets
VOCAB = 9
SEQ_VOCAB = 11


def random_sentence(rng, n_leaves, p_not=0.3):
    """(children, tokens, bracketed sequence, sign) of one random tree."""
    children, tokens = [], []

    def build(n):
        """Appends a subtree of n word leaves; returns (node, sign, sequence)."""
        if n == 1:
            word = rng.integers(0, 8)
            children.append((-1, -1))
            tokens.append(len(children) - 1)
            sign = 1 if word in POSITIVE else -1 if word in NEGATIVE else 0
            return len(children) - 1, sign, [int(word)], [int(word)]
        node = len(children)
        children.append(None)
        if rng.random() < p_not:
            left = len(children)
            children.append((-1, -1))
            tokens.append(left)
            right, sign, seq, words = build(n - 1)
            children[node] = (left, right)
            return node, -sign, [OPEN, NOT] + seq + [CLOSE], [NOT] + words
        k = int(rng.integers(1, n))
        left, s1, seq1, w1 = build(k)
        right, s2, seq2, w2 = build(n - k)
        children[node] = (left, right)
        return node, int(np.sign(s1 + s2)), [OPEN] + seq1 + seq2 + [CLOSE], w1 + w2

    _, sign, seq, words = build(n_leaves)
    children = np.array(children)
    # the leaves' tokens in increasing node order, as RecursiveNet takes them
    leaf_nodes = np.array(tokens)
    order = np.argsort(leaf_nodes)
    return children, np.array(words)[order], np.array(seq), sign + 1


def make_set(rng, n, lengths):
    return [random_sentence(rng, int(rng.integers(*lengths))) for _ in range(n)]


def batches(n, size, rng):
    order = rng.permutation(n)
    return [order[i:i + size] for i in range(0, n, size)]


class TreeModel:
    def __init__(self, hidden, seed):
        self.net = fastrnn.RecursiveNet(hidden, 3, num_embeddings=VOCAB, seed=seed)
        self.net.params["embedding"] *= 0.3
        self.models = [self.net]

    def logits(self, data):
        trees = fastrnn.TreeBatch([d[0] for d in data])
        return self.net.forward(trees, [d[1] for d in data])

    def backward(self, dlogits):
        self.net.backward(dlogits)


class SequenceModel:
    def __init__(self, hidden, seed):
        self.lstm = fastrnn.LSTM(SEQ_VOCAB, hidden, seed=seed)
        self.head = fastrnn.Linear(hidden, 3, seed=seed + 1)
        self.models = [self.lstm, self.head]

    def logits(self, data):
        lengths = np.array([len(d[2]) for d in data])
        x = np.zeros((lengths.max(), len(data), SEQ_VOCAB), np.float32)
        for b, d in enumerate(data):
            x[np.arange(len(d[2])), b, d[2]] = 1
        _, (h_n, _) = self.lstm.forward(x, lengths=lengths)
        return self.head.forward(h_n[0])

    def backward(self, dlogits):
        dh = self.head.backward(dlogits)[None]
        self.lstm.backward(None, (dh, None))


def train(model, data, epochs, batch, lr, seed):
    opt = fastrnn.Adam(model.models, lr=lr, clip_norm=5.0)
    rng = np.random.default_rng(seed)
    labels = np.array([d[3] for d in data])
    start = time.perf_counter()
    for _ in range(epochs):
        for idx in batches(len(data), batch, rng):
            opt.zero_grad()
            logits = model.logits([data[i] for i in idx])
            _, dlogits = fastrnn.losses.softmax_nll(logits, labels[idx])
            model.backward(dlogits)
            opt.step()
    return time.perf_counter() - start


def accuracy(model, data):
    labels = np.array([d[3] for d in data])
    return float(np.mean(np.argmax(model.logits(data), axis=1) == labels))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small run, for the tests")
    ap.add_argument("--train", type=int, default=4000, help="training sentences")
    ap.add_argument("--test", type=int, default=1000, help="test sentences per length range")
    ap.add_argument("--epochs", type=int, default=12)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.quick:
        args.train, args.test, args.epochs, args.repeat = 200, 100, 1, 1
    rng = np.random.default_rng(args.seed)
    train_set = make_set(rng, args.train, (2, 11))
    test_sets = {"2-10 words": make_set(rng, args.test, (2, 11)),
                 "11-20 words": make_set(rng, args.test, (11, 21))}
    counts = np.bincount([d[3] for d in train_set], minlength=3)
    print(f"{args.train} training sentences of 2-10 words (labels -/0/+: "
          f"{'/'.join(map(str, counts))}), {args.epochs} epochs, H = {args.hidden}, Adam")
    models = {"RecursiveNet": TreeModel(args.hidden, args.seed),
              "LSTM (bracketed)": SequenceModel(args.hidden, args.seed)}
    seconds = {name: train(m, train_set, args.epochs, 32, 3e-3, args.seed + 1)
               for name, m in models.items()}
    big = test_sets["11-20 words"]
    timings = engines_ms({name: (lambda m=m: m.logits(big)) for name, m in models.items()},
                         args.repeat)
    print(f"forward over {len(big)} test sentences: {rule(args.repeat)}")
    print(f"{'model':>18} | " + " | ".join(f"{k:>11}" for k in test_sets)
          + f" | {'train s':>8} | {'forward ms':>10}")
    for name, m in models.items():
        accs = [accuracy(m, data) for data in test_sets.values()]
        print(f"{name:>18} | " + " | ".join(f"{a:>11.3f}" for a in accs)
              + f" | {seconds[name]:>8.2f} | {timings[name]:>10.2f}")
    base = np.bincount([d[3] for d in big], minlength=3).max() / len(big)
    print(f"(majority class on 11-20 words: {base:.3f})")


if __name__ == "__main__":
    main()
