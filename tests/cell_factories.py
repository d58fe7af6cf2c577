"""The gated layers by cell kind, for tests that run every kind the same way:
{name: factory(D, H, dtype, **layer keywords)}, seeded."""
import fastrnn

CELLS = {
    "rnn-tanh": lambda D, H, dt, **kw: fastrnn.RNN(D, H, dtype=dt, seed=0, **kw),
    "rnn-relu": lambda D, H, dt, **kw: fastrnn.RNN(D, H, nonlinearity="relu", dtype=dt,
                                                   seed=0, **kw),
    "lstm": lambda D, H, dt, **kw: fastrnn.LSTM(D, H, dtype=dt, seed=0, **kw),
    "lstm-peepholes": lambda D, H, dt, **kw: fastrnn.LSTM(D, H, peepholes=True, dtype=dt,
                                                          seed=0, **kw),
    "gru": lambda D, H, dt, **kw: fastrnn.GRU(D, H, dtype=dt, seed=0, **kw),
    "gru-before": lambda D, H, dt, **kw: fastrnn.GRU(D, H, reset_after=False, dtype=dt,
                                                     seed=0, **kw),
}
