"""Sequence to sequence: reversing digit strings, with and without attention.

    python bench/seq2seq.py [--quick] [--epochs 30] [--hidden 64] [--repeat 5] [--no-torch]

The task: read a string of 1..L digits and write it reversed, then an end
symbol. Training strings are mostly short (three in four at most L/2
digits); the held-out strings (none seen in training) are long, L-2..L
digits, where a fixed-size summary must hold every digit (Goodfellow et
al. (2016), sec. 10.4) and attention (sec. 10.7.5) can look each one up.
Printed, for fastrnn.Seq2Seq without and with additive attention:
exact-match accuracy of greedy decoding (stopping at the end symbol) on
held-out short and long strings, training time, greedy generation time per
token; then the training step (forward, backward, Adam) against the same
model in PyTorch when it is installed, side by side in one run.
"""
import argparse
import time

import numpy as np

import fastrnn
from fastrnn.models.seq2seq import masked_nll
from timing import engines_ms, rule

DIGITS, START, END = 10, 10, 11   # source vocabulary 0..9; target adds START and END


def reversal_data(n, max_len, rng, lengths=None, exclude=frozenset()):
    """n distinct digit strings (none in ``exclude``) as padded time-major
    arrays: (sources (L, n), targets (L + 1, n): reversed then END,
    source lengths, target lengths, the set of strings)."""
    strings = []
    seen = set(exclude)
    while len(strings) < n:
        if lengths is None:
            # three in four at most max_len // 2 digits
            short = rng.random() < 0.75
            L = int(rng.integers(1, max_len // 2 + 1) if short
                    else rng.integers(max_len // 2 + 1, max_len + 1))
        else:
            L = int(rng.choice(lengths))
        s = tuple(int(d) for d in rng.integers(0, DIGITS, L))
        if s not in seen:
            seen.add(s)
            strings.append(s)
    src = np.zeros((max_len, n), dtype=np.intp)
    tgt = np.full((max_len + 1, n), END, dtype=np.intp)
    src_len = np.array([len(s) for s in strings])
    for j, s in enumerate(strings):
        src[:len(s), j] = s
        tgt[:len(s), j] = s[::-1]
    return src, tgt, src_len, src_len + 1, set(strings)


def build(attention, hidden, embed, seed):
    encoder = fastrnn.Sequential(fastrnn.Embedding(DIGITS, embed, seed=seed),
                                 fastrnn.LSTM(embed, hidden, seed=seed + 1))
    decoder = fastrnn.Sequential(fastrnn.Embedding(END + 1, embed, seed=seed + 2),
                                 fastrnn.LSTM(embed, hidden, seed=seed + 3),
                                 fastrnn.Linear(hidden, END + 1, seed=seed + 4))
    return fastrnn.Seq2Seq(encoder, decoder, attention=attention, start_token=START,
                           seed=seed + 5)


def exact_match(model, src, tgt, src_len, tgt_len):
    """Share of strings whose greedy output (up to and with END) is the
    target exactly, and the generated tokens and seconds."""
    t0 = time.perf_counter()
    out = model.generate(src[:src_len.max()], source_lengths=src_len,
                         max_length=int(tgt_len.max()), end_token=END, method="greedy")
    seconds = time.perf_counter() - t0
    right = sum(np.array_equal(seq, tgt[:n, j]) for j, (seq, n) in enumerate(zip(out, tgt_len)))
    return right / src.shape[1], sum(len(seq) for seq in out), seconds


def mirrored_attention(model, src, tgt, src_len, tgt_len):
    """Share of the decoder steps (the digits, not the end) whose attention
    peaks on the source digit they reverse, under teacher forcing."""
    tgt_in = np.concatenate([np.full((1, src.shape[1]), START), tgt[:-1]])
    model.forward(src, tgt_in, src_len, tgt_len)
    peak = model.attention.attention_weights_.argmax(axis=2)          # (T, B)
    t = np.arange(tgt.shape[0])[:, None]
    digit_steps = t < src_len[None, :]
    return float(np.mean((peak == src_len[None, :] - 1 - t)[digit_steps]))


def torch_model(hidden, embed, attention):
    """The same architecture in PyTorch, for timing: the context enters as
    the initial state tanh(W x + b) and as an extra input at every step
    (concatenated, PyTorch having no per-row term), Luong attention with an
    additive score."""
    import torch
    from torch import nn

    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.src_emb = nn.Embedding(DIGITS, embed)
            self.enc = nn.LSTM(embed, hidden)
            self.tgt_emb = nn.Embedding(END + 1, embed)
            self.init = nn.Linear(hidden, hidden)
            self.dec = nn.LSTM(embed + hidden, hidden)
            if attention:
                self.wq = nn.Linear(hidden, hidden, bias=False)
                self.wk = nn.Linear(hidden, hidden, bias=False)
                self.v = nn.Linear(hidden, 1, bias=False)
                self.wc = nn.Linear(2 * hidden, hidden, bias=False)
            self.out = nn.Linear(hidden, END + 1)

        def forward(self, src, tgt_in, mask):
            keys, (h, _) = self.enc(self.src_emb(src))
            ctx = h[-1]
            h0 = torch.tanh(self.init(ctx))[None]
            emb = self.tgt_emb(tgt_in)
            s, _ = self.dec(torch.cat([emb, ctx[None].expand(emb.shape[0], -1, -1)], -1),
                            (h0, torch.zeros_like(h0)))
            if attention:
                Q, K = s.transpose(0, 1), keys.transpose(0, 1)
                e = self.v(torch.tanh(self.wq(Q)[:, :, None] + self.wk(K)[:, None]))[..., 0]
                alpha = torch.softmax(e.masked_fill(~mask[:, None, :], float("-inf")), -1)
                s = torch.tanh(self.wc(torch.cat([alpha @ K, Q], -1))).transpose(0, 1)
            return self.out(s)

    return Model()


def throughput(args, src, tgt, src_len, tgt_len):
    """ms per training step, fastrnn and PyTorch, side by side."""
    B = src.shape[1]
    tgt_in = np.concatenate([np.full((1, B), START), tgt[:-1]])
    engines, rows = {}, []
    for attention in (None, "additive"):
        model = build(attention, args.hidden, args.embed, 0)
        opt = fastrnn.Adam(model, lr=1e-3)

        def step(model=model, opt=opt):
            opt.zero_grad()
            logits = model.forward(src, tgt_in, src_len, tgt_len)
            model.backward(masked_nll(logits, tgt, tgt_len)[1])
            opt.step()
        name = "attention" if attention else "plain"
        engines[f"fastrnn {name}"] = step
        rows.append(name)
        if args.no_torch:
            continue
        try:
            import torch
        except ImportError:
            continue
        torch.set_num_threads(1)
        tm = torch_model(args.hidden, args.embed, attention is not None)
        topt = torch.optim.Adam(tm.parameters(), lr=1e-3)
        t_src, t_in, t_tgt = (torch.tensor(a) for a in (src, tgt_in, tgt))
        mask = torch.arange(src.shape[0])[None, :] < torch.tensor(src_len)[:, None]
        valid = torch.arange(tgt.shape[0])[:, None] < torch.tensor(tgt_len)[None, :]
        loss_fn = torch.nn.CrossEntropyLoss()

        def torch_step(tm=tm, topt=topt, mask=mask, valid=valid):
            topt.zero_grad()
            logits = tm(t_src, t_in, mask)
            loss_fn(logits[valid], t_tgt[valid]).backward()
            topt.step()
        engines[f"torch {name}"] = torch_step
    return rows, engines_ms(engines, args.repeat)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="a small run in a few seconds")
    ap.add_argument("--max-len", type=int, default=12)
    ap.add_argument("--train", type=int, default=6000, help="training strings")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--embed", type=int, default=16)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-torch", action="store_true", help="leave PyTorch out of the timing")
    args = ap.parse_args()
    # One BLAS thread for every engine: the products here are small, and on
    # a busy machine a threaded BLAS waits for descheduled threads.
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        threadpool_limits = None
    if threadpool_limits is not None:
        with threadpool_limits(limits=1):
            run(args)
    else:
        run(args)


def run(args):
    if args.quick:
        args.max_len, args.train, args.epochs, args.hidden, args.repeat = 6, 300, 2, 16, 1
    rng = np.random.default_rng(0)
    L = args.max_len
    src, tgt, src_len, tgt_len, seen = reversal_data(args.train, L, rng)
    long_lengths = list(range(max(L - 2, 1), L + 1))
    short_lengths = list(range(max(L // 2 - 2, 1), L // 2 + 1))
    n_test = 200 if args.quick else 1000
    long_test = reversal_data(n_test, L, rng, lengths=long_lengths, exclude=seen)
    short_test = reversal_data(n_test, L, rng, lengths=short_lengths,
                               exclude=seen | long_test[4])
    share_long = np.mean(src_len >= L - 2)
    print(f"reversal of digit strings of 1..{L} digits; {args.train} training strings "
          f"({100 * share_long:.0f}% of {L - 2}..{L} digits), held-out tests of "
          f"{short_lengths[0]}..{short_lengths[-1]} and {long_lengths[0]}..{L} digits; "
          f"LSTM {args.hidden} units, embeddings of {args.embed}, Adam, {args.epochs} epochs")
    print(f"{'model':>10} | {'short exact':>11} {'long exact':>10} | {'train s':>8} "
          f"{'final loss':>10} | {'gen us/token':>12}")
    for attention in (None, "additive"):
        model = build(attention, args.hidden, args.embed, 1)
        opt = fastrnn.Adam(model, lr=3e-3, clip_norm=5.0)
        t0 = time.perf_counter()
        history = model.fit(src, tgt, source_lengths=src_len, target_lengths=tgt_len,
                            optimizer=opt, epochs=args.epochs, batch_size=64, seed=0,
                            progress=False)
        seconds = time.perf_counter() - t0
        model.eval()
        short_acc, _, _ = exact_match(model, *short_test[:4])
        long_acc, tokens, gen_s = exact_match(model, *long_test[:4])
        name = "attention" if attention else "plain"
        print(f"{name:>10} | {100 * short_acc:10.1f}% {100 * long_acc:9.1f}% | "
              f"{seconds:8.1f} {history['loss'][-1]:10.4f} | {1e6 * gen_s / tokens:12.1f}")
        if attention:
            aligned = mirrored_attention(model, *long_test[:4])
    print(f"attention weights (attention_weights_) on the long test strings: the largest "
          f"weight of {100 * aligned:.1f}% of the decoder steps is on the digit that step "
          f"writes (source position length - 1 - t)")
    B = 64
    bsrc, btgt, bsl, btl, _ = reversal_data(B, L, np.random.default_rng(1),
                                            lengths=list(range(1, L + 1)))
    fastrnn.set_num_threads(1)
    rows, t = throughput(args, bsrc, btgt, bsl, btl)
    tokens = int(btl.sum())
    print(f"\ntraining step (forward, backward, Adam) on {B} pairs of 1..{L} digits, one "
          f"thread each, ms ({rule(args.repeat)}):")
    for name in rows:
        ours = t[f"fastrnn {name}"]
        line = f"{name:>10} | fastrnn {ours:8.2f} ms ({tokens / ours:7.0f} tokens/ms)"
        if f"torch {name}" in t:
            theirs = t[f"torch {name}"]
            line += f" | PyTorch {theirs:8.2f} ms | PyTorch / fastrnn {theirs / ours:5.2f}"
        print(line)


if __name__ == "__main__":
    main()
