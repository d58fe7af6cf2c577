"""Hostile arguments to the training loop, optimisers, data sets, tasks,
metrics, losses, clipping and diagnostics (issue 11): each must be a
ValueError or TypeError naming the argument, never a ZeroDivisionError,
OverflowError, KeyError, AttributeError or IndexError from inside, nor a
hang or silent NaN."""
import importlib
import warnings

import numpy as np
import pytest

import fastrnn
from fastrnn import clip, datasets, diagnostics, losses, metrics, optim, tasks
from fastrnn.cli import demo
from fastrnn.cli import demo_esn

train_mod = importlib.import_module("fastrnn.training.train")

HUGE = 10**30
NAN, INF = float("nan"), float("inf")


def _seq():
    return fastrnn.Sequential(fastrnn.RNN(2, 3, seed=0), fastrnn.Linear(3, 1, seed=0))


def _xy(T=5, N=4):
    rng = np.random.default_rng(0)
    return (rng.random((T, N, 2)).astype(np.float32),
            rng.random((T, N, 1)).astype(np.float32))


def _grads():
    return [np.ones(3, np.float32)]


Y2 = np.random.default_rng(1).random((10, 2))

# (label, call, exception class, text the message must hold)
CASES = [
    # ---- train / Sequential (issue: ZeroDivisionError, AttributeError)
    ("train no sequences", lambda: train_mod.train(_seq(), _xy()[0][:, :0], _xy()[1][:, :0],
                                                   progress=False), ValueError, "X"),
    ("train no sequences, last step",
     lambda: train_mod.train(_seq(), _xy()[0][:, :0], np.zeros((0, 1), np.float32),
                             progress=False), ValueError, "X"),
    ("train no steps", lambda: train_mod.train(_seq(), _xy()[0][:0], _xy()[1][:0],
                                               progress=False), ValueError, "X"),
    ("train(None)", lambda: train_mod.train(None, *_xy(), progress=False), TypeError, "model"),
    ("train(array)", lambda: train_mod.train(np.zeros(3), *_xy(), progress=False), TypeError,
     "model"),
    ("train loss array", lambda: train_mod.train(_seq(), *_xy(), loss=np.array([]),
                                                 progress=False), ValueError, "loss"),
    ("train clip_hidden nan", lambda: train_mod.train(_seq(), *_xy(), clip_hidden=NAN,
                                                      progress=False), ValueError, "clip_hidden"),
    ("train clip_hidden < 0", lambda: train_mod.train(_seq(), *_xy(), clip_hidden=-1.0,
                                                      progress=False), ValueError, "clip_hidden"),
    ("train callbacks int", lambda: train_mod.train(_seq(), *_xy(), callbacks=3,
                                                    progress=False), TypeError, "callbacks"),
    ("train callbacks of str", lambda: train_mod.train(_seq(), *_xy(), callbacks=["a"],
                                                       progress=False), TypeError, "callbacks"),
    ("train progress None", lambda: train_mod.train(_seq(), *_xy(), progress=None), TypeError,
     "progress"),
    ("train X complex", lambda: train_mod.train(_seq(), _xy()[0] + 1j, _xy()[1],
                                                progress=False), TypeError, "X"),
    ("train optimizer of another model",
     lambda: train_mod.train(_seq(), *_xy(), optimizer=optim.Adam(_seq()), progress=False),
     ValueError, "optimizer"),
    ("Sequential(None)", lambda: fastrnn.Sequential(None), TypeError, "recurrent"),
    ("Sequential(str)", lambda: fastrnn.Sequential("rnn"), TypeError, "recurrent"),
    ("Sequential output 3", lambda: fastrnn.Sequential(fastrnn.RNN(2, 3), 3), TypeError,
     "output"),
    # ---- optimisers (issue: KeyError)
    ("Adam.load_state_dict({})", lambda: optim.Adam(fastrnn.RNN(2, 3)).load_state_dict({}),
     ValueError, "steps"),
    ("SGD.load_state_dict({})", lambda: optim.SGD(fastrnn.RNN(2, 3), 0.1).load_state_dict({}),
     ValueError, "buffers"),
    ("Adam.load_state_dict(None)", lambda: optim.Adam(fastrnn.RNN(2, 3)).load_state_dict(None),
     TypeError, "state"),
    ("Adam state wrong shape",
     lambda: optim.Adam(fastrnn.RNN(2, 3)).load_state_dict(
         {"steps": 1, "buffers": [np.zeros(2)] * 8}), ValueError, "state['buffers'][0]"),
    ("Adam state complex",
     lambda: (lambda o: o.load_state_dict(
         {"steps": 1, "buffers": [b + 1j for b in o.state_dict()["buffers"]]}))(
             optim.Adam(fastrnn.RNN(2, 3))), TypeError, "state['buffers'][0]"),
    ("Adam state nan",
     lambda: (lambda o: o.load_state_dict(
         {"steps": 1, "buffers": [b + np.nan for b in o.state_dict()["buffers"]]}))(
             optim.Adam(fastrnn.RNN(2, 3))), ValueError, "finite"),
    ("Adam state steps < 0",
     lambda: (lambda o: o.load_state_dict(dict(o.state_dict(), steps=-1)))(
         optim.Adam(fastrnn.RNN(2, 3))), ValueError, "steps"),
    ("Adam state steps str",
     lambda: (lambda o: o.load_state_dict(dict(o.state_dict(), steps="3")))(
         optim.Adam(fastrnn.RNN(2, 3))), TypeError, "steps"),
    ("Adam state buffers None",
     lambda: (lambda o: o.load_state_dict(dict(o.state_dict(), buffers=None)))(
         optim.Adam(fastrnn.RNN(2, 3))), TypeError, "buffers"),
    ("Adam(None)", lambda: optim.Adam(None), TypeError, "models"),
    ("SGD(3)", lambda: optim.SGD(3, 0.1), TypeError, "models"),
    ("Adam betas 0", lambda: optim.Adam(fastrnn.RNN(2, 3), betas=0), TypeError, "betas"),
    ("SGD nesterov array", lambda: optim.SGD(fastrnn.RNN(2, 3), 0.1, momentum=0.5,
                                             nesterov=np.array([])), TypeError, "nesterov"),
    # ---- data sets (issue: OverflowError)
    ("mackey_glass x0=1e40", lambda: datasets.mackey_glass(20, x0=1e40), ValueError, "x0"),
    ("mackey_glass a huge", lambda: datasets.mackey_glass(20, a=1e40), ValueError, "a="),
    ("mackey_glass power huge", lambda: datasets.mackey_glass(20, power=1e40), ValueError,
     "power"),
    ("mackey_glass x0 nan", lambda: datasets.mackey_glass(20, x0=NAN), ValueError, "x0"),
    ("mackey_glass complex", lambda: datasets.mackey_glass(20, x0=-1.5, power=10.5),
     ValueError, "power"),
    ("mackey_glass 1+x**p = 0", lambda: datasets.mackey_glass(5, x0=-1.0, power=3),
     ValueError, "power"),
    ("mackey_glass n huge", lambda: datasets.mackey_glass(HUGE), ValueError, "n"),
    ("mackey_glass n < 0", lambda: datasets.mackey_glass(-1), ValueError, "n"),
    ("mackey_glass tau/h huge", lambda: datasets.mackey_glass(5, tau=1e300, h=1e-300),
     ValueError, "tau"),
    ("mackey_glass subsample huge", lambda: datasets.mackey_glass(5, subsample=2**39),
     ValueError, "subsample"),
    ("mackey_glass method array", lambda: datasets.mackey_glass(5, method=np.array([])),
     ValueError, "method"),
    ("narma n huge", lambda: datasets.narma(HUGE), ValueError, "n"),
    ("narma u nan", lambda: datasets.narma(5, u=np.full(205, NAN)), ValueError, "u"),
    ("narma u complex", lambda: datasets.narma(5, u=np.zeros(205) + 1j), TypeError, "u"),
    ("narma diverges", lambda: datasets.narma(50, u=np.full(250, 5.0)), ValueError, "diverges"),
    ("lorenz sigma nan", lambda: datasets.lorenz(5, sigma=NAN), ValueError, "sigma"),
    ("lorenz rho None", lambda: datasets.lorenz(5, rho=None), TypeError, "rho"),
    ("lorenz x0 int", lambda: datasets.lorenz(5, x0=0), ValueError, "x0"),
    ("lorenz x0 inf", lambda: datasets.lorenz(5, x0=(INF, 1, 1)), ValueError, "x0"),
    ("lorenz subsample huge", lambda: datasets.lorenz(5, subsample=HUGE), ValueError,
     "subsample"),
    ("lorenz diverges", lambda: datasets.lorenz(50, h=1.0, discard=0), ValueError, "h="),
    ("memory task low nan", lambda: datasets.memory_capacity_task(5, low=NAN), ValueError,
     "low"),
    ("memory task high inf", lambda: datasets.memory_capacity_task(5, high=INF), ValueError,
     "high"),
    ("memory task max_delay huge", lambda: datasets.memory_capacity_task(5, max_delay=HUGE),
     ValueError, "max_delay"),
    # ---- tasks
    ("temporal_order n huge", lambda: tasks.temporal_order(HUGE, 12), ValueError,
     "n_sequences"),
    ("temporal_order length huge", lambda: tasks.temporal_order(2, HUGE), ValueError, "length"),
    ("adding_problem dtype int", lambda: tasks.adding_problem(2, 4, dtype=np.int32), TypeError,
     "dtype"),
    ("latching noise empty", lambda: tasks.latching(2, 5, noise=np.array([])), TypeError,
     "noise"),
    ("latching noise nan", lambda: tasks.latching(2, 5, noise=NAN), ValueError, "noise"),
    ("adding_problem product huge", lambda: tasks.adding_problem(2**30, 2**30), ValueError,
     "length * n_sequences"),
    # ---- metrics
    ("rmse empty", lambda: metrics.rmse([], []), ValueError, "empty"),
    ("rmse shapes", lambda: metrics.rmse(Y2, Y2[:, :1]), ValueError, "same shape"),
    ("rmse str", lambda: metrics.rmse(["a"], ["b"]), TypeError, "y_true"),
    ("rmse object", lambda: metrics.rmse(Y2, Y2.astype(object)), TypeError, "y_pred"),
    ("nrmse nan", lambda: metrics.nrmse(Y2, Y2 + NAN), ValueError, "y_pred"),
    ("nrmse norm array", lambda: metrics.nrmse(Y2, Y2, norm=np.array([])), ValueError, "norm"),
    ("memory_capacity per_delay str", lambda: metrics.memory_capacity(Y2, Y2, per_delay="y"),
     TypeError, "per_delay"),
    # ---- losses
    ("mse reduction array", lambda: losses.mse(Y2, Y2, reduction=np.array([])), ValueError,
     "reduction"),
    ("log_softmax axis huge", lambda: losses.log_softmax(Y2, axis=HUGE), ValueError, "axis"),
    ("log_softmax axis nan", lambda: losses.log_softmax(Y2, axis=NAN), TypeError, "axis"),
    ("log_softmax None", lambda: losses.log_softmax(None), TypeError, "logits"),
    ("log_softmax 0-d", lambda: losses.log_softmax(1.0), ValueError, "logits"),
    ("softmax no class", lambda: losses.softmax(np.zeros((2, 0))), ValueError, "logits"),
    ("softmax_nll class out of range", lambda: losses.softmax_nll(Y2, np.full(10, 2)),
     ValueError, "targets"),
    # ---- clipping
    ("clip_grad_norm nan", lambda: clip.clip_grad_norm(_grads(), NAN), ValueError, "max_norm"),
    ("clip_grad_norm < 0", lambda: clip.clip_grad_norm(_grads(), -1.0), ValueError,
     "max_norm"),
    ("clip_grad_norm inf", lambda: clip.clip_grad_norm(_grads(), INF), ValueError, "max_norm"),
    ("clip_grad_norm seed", lambda: clip.clip_grad_norm(_grads(), 1.0, seed="x"), TypeError,
     "seed"),
    ("clip_grad_value huge int", lambda: clip.clip_grad_value(_grads(), 10**400), ValueError,
     "clip_value"),
    # ---- diagnostics
    ("gradient_flow T=0", lambda: diagnostics.gradient_flow(
        fastrnn.RNN(2, 3), np.zeros((0, 4, 2)), np.zeros((0, 4, 3))), ValueError, "x"),
    ("gradient_flow y shape", lambda: diagnostics.gradient_flow(
        fastrnn.RNN(2, 3), np.zeros((5, 4, 2)), np.zeros((5, 3, 3))), ValueError, "y"),
    ("gradient_flow model None", lambda: diagnostics.gradient_flow(
        None, np.zeros((5, 4, 2)), np.zeros((5, 4, 3))), TypeError, "model"),
    ("gradient_flow loss", lambda: diagnostics.gradient_flow(
        fastrnn.RNN(2, 3), np.zeros((5, 4, 2)), np.zeros((5, 4, 3)), loss=None), ValueError,
     "loss"),
    ("gradient_flow x complex", lambda: diagnostics.gradient_flow(
        fastrnn.RNN(2, 3), np.zeros((5, 4, 2)) + 1j, np.zeros((5, 4, 3))), TypeError, "x"),
    ("plot_gradient_flow None", lambda: diagnostics.plot_gradient_flow(None), TypeError,
     "flow"),
    # ---- demos
    ("demo seed None", lambda: demo.run_demo(seed=None, verbose=False), TypeError, "seed"),
    ("demo hidden 0", lambda: demo.run_demo(hidden=0, verbose=False), ValueError, "hidden"),
    ("demo_esn horizon 0", lambda: demo_esn.run_demo(horizon=0, verbose=False), ValueError,
     "horizon"),
    ("demo_esn train < warm-up", lambda: demo_esn.run_demo(train=50, verbose=False),
     ValueError, "train"),
]


@pytest.mark.parametrize("label, call, exc, text", CASES, ids=[c[0] for c in CASES])
def test_hostile_argument_is_a_clear_error(label, call, exc, text):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)   # no silent overflow either
        with pytest.raises(exc) as info:
            call()
    assert text in str(info.value), str(info.value)


def test_memory_task_with_more_delays_than_steps():
    """The default max_delay (40) with fewer steps than that used to fail
    inside numpy; delays beyond the series give zero columns."""
    u, y = datasets.memory_capacity_task(20, seed=0)
    assert y.shape == (20, 40)
    assert np.array_equal(y[5:, 4], u[:15, 0])
    assert not y[:, 20:].any()


def test_a_failed_load_state_dict_changes_nothing():
    model = fastrnn.RNN(2, 3, seed=0)
    opt = optim.Adam(model)
    state = opt.state_dict()
    state["buffers"][0] = state["buffers"][0] + 1.0
    state["buffers"][-1] = np.full(3, np.nan)[:0]          # the last one is wrong
    before = [b.copy() for b in opt._buffers()]
    with pytest.raises(ValueError):
        opt.load_state_dict(state)
    assert all(np.array_equal(a, b) for a, b in zip(before, opt._buffers()))
    assert opt.steps == 0


def test_state_dict_round_trip_still_resumes():
    model = fastrnn.RNN(2, 3, seed=0)
    opt = optim.Adam(model)
    for g in model.grads.values():
        g[...] = 0.5
    opt.step()
    other = optim.Adam(fastrnn.RNN(2, 3, seed=1))
    other.load_state_dict(opt.state_dict())
    assert other.steps == 1
    assert all(np.array_equal(a, b) for a, b in zip(opt._buffers(), other._buffers()))
