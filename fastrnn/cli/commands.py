"""The command line: ``fastrnn`` (console script) or ``python -m fastrnn``.

Subcommands
-----------
``fit``      fit an echo state network (fastrnn.Reservoir + fastrnn.Ridge) on
             columns of a CSV or ``.npy`` file and save it with fastrnn.save
``predict``  run a saved model on a CSV or ``.npy`` file; predictions to CSV,
             ``.npy`` or standard output
``bench``    a short benchmark: fastrnn against a plain NumPy loop
``demo``     the demo of the README (also what runs without a subcommand)

Data files have one row per time step and one column per variable (see
``fastrnn/io/tables.py`` for what is read). A problem with a file or an
option is reported as one line on standard error, naming the file and the
reason, with exit status 2; no traceback.

``main(argv)`` runs the command line in-process and returns the exit status.
"""
import argparse
import contextlib
import json
import math
import os
import sys
import textwrap
import warnings

import numpy as np

from fastrnn.io.tables import TableError, read_table, write_table
from fastrnn._core.progress import Progress
from fastrnn._core.timing import ROUNDS
from fastrnn.reservoir import _reservoir
from fastrnn._version import __version__

EXIT_USAGE = 2


class CLIError(Exception):
    """A problem to report as one line and exit status 2."""


def _printable(text, stream):
    """``text`` as one line that ``stream`` can always print: whitespace runs
    (line breaks included) become one space, other unprintable characters
    (control codes, the lone surrogates standing for undecodable bytes of a
    file name) their backslash escape, and characters the stream's encoding
    lacks (say ``PYTHONIOENCODING=ascii``) too."""
    text = " ".join(str(text).split())
    text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    encoding = getattr(stream, "encoding", None) or "ascii"
    try:
        return text.encode(encoding, "backslashreplace").decode(encoding)
    except LookupError:   # a stream naming an encoding Python lacks
        return text.encode("ascii", "backslashreplace").decode("ascii")


def _say(text):
    """Print a line of a report on standard output, safely (see _printable)."""
    sys.stdout.write(_printable(text, sys.stdout) + "\n")


def _say_err(text):
    """Write one line on standard error, safely; a closed or broken standard
    error is not worth a traceback."""
    with contextlib.suppress(OSError, ValueError):
        sys.stderr.write(_printable(text, sys.stderr) + "\n")
        sys.stderr.flush()


@contextlib.contextmanager
def _warnings_as_lines(command):
    """Warnings of the library (e.g. Ridge falling back to least squares)
    printed as one line each, not with a source line."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            yield
        finally:
            for w in caught:
                _say_err(f"fastrnn {command}: warning: {w.message}")


# -------------------------------------------------------- argument types
def _positive_int(text):
    value = _int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}")
    return value


def _nonnegative_int(text):
    value = _int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def _int(text):
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def _delimiter(text):
    # csv.reader takes exactly one character, and a line break or the quote
    # character would silently change how every line splits.
    if len(text) != 1 or text in "\r\n\"":
        raise argparse.ArgumentTypeError(
            f"must be one character (not a line break or '\"'), got {text!r}")
    return text


def _finite_float(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    return value


# ------------------------------------------------------------------- fit
def _fit_data(args):
    """From the files and options of ``fit``: the inputs X (T, D) and targets
    Y (T, O) aligned for training, the names of the target and input columns,
    and the horizon used."""
    dtype = np.dtype(args.dtype)
    inputs = read_table(args.input, delimiter=args.delimiter)
    if args.target is not None:
        targets = read_table(args.target, delimiter=args.delimiter)
        in_cols = inputs.resolve(args.input_cols, "--input-cols")
        out_cols = targets.resolve(args.target_cols, "--target-cols")
        if targets.n_rows != inputs.n_rows:
            raise CLIError(f"{args.target}: has {targets.n_rows} rows, the input file "
                           f"{args.input} {inputs.n_rows}: input and target need one row per "
                           "time step")
    elif args.target_cols is not None:
        targets = inputs
        out_cols = inputs.resolve(args.target_cols, "--target-cols")
        if args.input_cols is None:
            in_cols = [j for j in range(inputs.n_columns) if j not in out_cols]
            if not in_cols:
                raise CLIError(f"{args.input}: every column is a target (--target-cols); "
                               "no column is left as input")
        else:
            in_cols = inputs.resolve(args.input_cols, "--input-cols")
    else:
        targets = None
        in_cols = inputs.resolve(args.input_cols, "--input-cols")
        out_cols = in_cols

    X = inputs.columns(in_cols, dtype)
    horizon = args.horizon
    if targets is None:
        # Forecasting: the target is the input itself, `horizon` steps later.
        horizon = 1 if horizon is None else horizon
        if horizon < 1:
            raise CLIError(f"--horizon must be >= 1 without a target (the task is to predict "
                           f"the input that many steps ahead), got {horizon}")
        Y = X
    else:
        horizon = 0 if horizon is None else horizon
        Y = targets.columns(out_cols, dtype)
    T = X.shape[0] - horizon
    if T <= args.warmup:
        raise CLIError(f"{args.input}: {X.shape[0]} rows leave {max(T, 0)} training steps after "
                       f"--horizon {horizon}, not more than --warmup {args.warmup}")
    if horizon:
        X, Y = X[:-horizon], Y[horizon:]
    source = targets if targets is not None else inputs
    names = [_column_name(source, j) for j in out_cols]
    return (np.ascontiguousarray(X), np.ascontiguousarray(Y), names,
            [_column_name(inputs, j) for j in in_cols], horizon)


def _column_name(table, j):
    return table.names[j] if table.names is not None else str(j)



def _chunk_steps(T, requested):
    """Steps per reservoir call: about 1% of the series, at least 1000."""
    if requested is not None:
        return requested
    return max(1000, -(-T // 100))


def _cmd_fit(args):
    import fastrnn

    _check_writable(args.output)
    X, Y, target_names, input_names, horizon = _fit_data(args)
    with _warnings_as_lines("fit"):
        esn, states = _fit_esn(args, X, Y)
    try:
        fastrnn.save(esn, args.output)
    except OSError as exc:
        raise CLIError(f"{args.output}: cannot be written ({exc.strerror or exc})") from None
    _report_fit(args, Y, esn, states, target_names, input_names, horizon)
    return 0


def _fit_esn(args, X, Y):
    """The fitted ESN and the reservoir states of all T steps."""
    import fastrnn

    T = X.shape[0]
    dtype = np.dtype(args.dtype)
    try:
        reservoir = fastrnn.Reservoir(
            args.units, sr=args.sr, lr=args.lr, input_scaling=args.input_scaling,
            rc_connectivity=args.rc_connectivity, input_connectivity=args.input_connectivity,
            dtype=dtype, seed=args.seed)
        readout = fastrnn.Ridge(ridge=args.ridge, dtype=dtype)
    except (ValueError, TypeError) as exc:
        raise CLIError(str(exc)) from None

    # The reservoir runs in chunks only to move the progress bar: its state
    # carries over between calls and every step is computed as in one call,
    # so the states (and the fit) equal those of ESN.fit on the whole series
    # (tests/test_cli.py checks it). That holds while the input projection is
    # computed row by row (up to _reservoir.SMALL_INPUT inputs);
    # a BLAS GEMM over more inputs may round differently for other numbers
    # of rows, so then the series goes in one call.
    if X.shape[1] > _reservoir.SMALL_INPUT:
        step = max(T, 1)
    else:
        step = _chunk_steps(T, args.chunk)
    states = np.empty((T, args.units), dtype=dtype)
    with Progress(-(-T // step) + 1, "fit", "chunks", enabled=not args.quiet) as bar:
        for start in range(0, T, step):
            states[start:start + step] = reservoir.run(X[start:start + step])
            bar.update()
        try:
            readout.fit(states[args.warmup:], Y[args.warmup:])
        except (ValueError, np.linalg.LinAlgError) as exc:
            raise CLIError(f"{args.input}: the ridge readout cannot be fitted: {exc}") from None
        bar.update()
    return fastrnn.ESN(reservoir, readout), states


def _report_fit(args, Y, esn, states, target_names, input_names, horizon):
    from fastrnn.analysis.metrics import nrmse, rsquare

    pred = esn.readout.predict(states[args.warmup:])
    truth = Y[args.warmup:]
    task = (f"predict column(s) {', '.join(target_names)} "
            + (f"{horizon} step(s) ahead " if horizon else "")
            + f"from column(s) {', '.join(input_names)}")
    # File and column names come from the user: printed through _say, which
    # escapes what the terminal's encoding cannot show.
    _say(f"fitted an ESN of {args.units} units on {truth.shape[0]} steps of {args.input} "
         f"(after {args.warmup} warm-up steps) to {task}")
    for k, name in enumerate(target_names):
        _say(f"  {name}: training NRMSE {_metric(nrmse, truth[:, k], pred[:, k])}, "
             f"R^2 {_metric(rsquare, truth[:, k], pred[:, k], digits=6)}")
    _say(f"saved to {args.output}")


def _metric(fn, truth, pred, digits=4):
    try:
        return f"{fn(truth, pred):.{digits}g}"
    except ValueError:   # a constant target has no spread to normalise by
        return "n/a (constant target)"


def _check_writable(path):
    """Refuse an output path that cannot be written, before a long job."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise CLIError(f"{path}: the directory {directory} does not exist")
    if os.path.isdir(path):
        raise CLIError(f"{path}: is a directory")
    if not os.access(directory, os.W_OK):
        raise CLIError(f"{path}: the directory {directory} is not writable")


# --------------------------------------------------------------- predict
def _load_esn(path):
    import fastrnn

    try:
        model = fastrnn.load(path)
    except FileNotFoundError:
        raise CLIError(f"{path}: no such file") from None
    except OSError as exc:
        raise CLIError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    except (ValueError, TypeError) as exc:
        message = str(exc)
        if not message.startswith(str(path)):
            message = f"{path}: {message}"
        raise CLIError(message) from None
    if not isinstance(model, fastrnn.ESN):
        raise CLIError(f"{path}: holds a fastrnn.{type(model).__name__}, not an ESN (the "
                       "models that fastrnn fit writes)")
    if not hasattr(model.readout, "coef_") or model.reservoir.input_dim is None:
        raise CLIError(f"{path}: holds an ESN that was never fitted")
    return model


def _cmd_predict(args):
    esn = _load_esn(args.model)
    if args.output not in (None, "-"):
        _check_writable(args.output)
    table = read_table(args.input, delimiter=args.delimiter)
    cols = table.resolve(args.input_cols, "--input-cols")
    expected = esn.reservoir.input_dim
    if len(cols) != expected:
        how = "choose them with --input-cols" if args.input_cols is None else "--input-cols"
        raise CLIError(f"{args.input}: the model {args.model} takes {expected} input "
                       f"column{'s' if expected != 1 else ''}, got {len(cols)} ({how})")
    X = table.columns(cols, esn.dtype)
    if args.reset:
        esn.reset()
    with _warnings_as_lines("predict"):
        try:
            y = esn.predict(X)
        except ValueError as exc:   # e.g. a model saved with a batch of states
            raise CLIError(f"{args.model}: cannot run on {args.input}: {exc}") from None
    y = y.reshape(X.shape[0], -1)
    names = None
    if not args.no_header:
        names = ["prediction"] if y.shape[1] == 1 else \
            [f"prediction_{k}" for k in range(y.shape[1])]
    write_table(args.output, y, names, stream=sys.stdout)
    return 0


# ----------------------------------------------------------------- bench
def _cmd_bench(args):
    from fastrnn.cli import quick_bench as qb

    jobs = ("rnn", "reservoir") if args.only is None else (args.only,)
    cases = []
    if "rnn" in jobs:
        cases += [("rnn", h) for h in args.hidden]
    if "reservoir" in jobs:
        cases += [("reservoir", n) for n in args.units]
    results = []
    total = len(cases) * qb.calls_per_case(args.repeat)
    with Progress(total, "bench", "calls", enabled=not args.quiet) as bar:
        for job, size in cases:
            if job == "rnn":
                r = qb.bench_rnn(size, length=args.length, batch=args.batch,
                                 input_size=args.input_size, dtype=args.dtype,
                                 repeat=args.repeat, tick=bar.update)
            else:
                r = qb.bench_reservoir(size, steps=args.steps, input_size=args.input_size,
                                       dtype=args.dtype, repeat=args.repeat, tick=bar.update)
            results.append(r)
    if args.json:
        print(json.dumps(results, indent=1))
    else:
        print(f"fastrnn {__version__} against a plain NumPy loop; best of {ROUNDS} block "
              f"medians of {args.repeat} calls, blocks taken in turn "
              "(ratio = NumPy time / fastrnn time)")
        for r in results:
            print("  " + qb.describe(r))
    return 0


# ------------------------------------------------------------------ demo
def _cmd_demo(args):
    from fastrnn.cli.demo import run_demo
    from fastrnn.cli.demo_esn import run_demo as run_esn_demo

    run_demo()
    print()
    run_esn_demo()
    return 0


# ---------------------------------------------------------------- parser
def _wrapped(text):
    """A help paragraph wrapped to the terminal width argparse assumes."""
    return textwrap.fill(text, 79)


_EPILOG = """examples:
  fastrnn fit --input series.csv --input-cols load --units 500 --output model.npz
  fastrnn predict model.npz --input new.csv --input-cols load --output pred.csv
  fastrnn bench --hidden 64 256 --units 500
  fastrnn demo

Without a subcommand, the README demo runs (as `fastrnn demo`)."""


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fastrnn",
        description=_wrapped("fastrnn: recurrent networks and echo state networks on the CPU. "
                    "Fit and run echo state networks on your own CSV or .npy data, "
                    "benchmark, or run the demo. Also runs as `python -m fastrnn`."),
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"fastrnn {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                title="subcommands (fastrnn COMMAND --help for each)")

    data_help = ("a CSV file (one row per time step, an optional header row) or a .npy "
                 "file (1-D, or 2-D with rows as time steps)")
    cols_help = ("comma-separated column numbers (from 0; negative from the end; a range "
                 "such as 0:3) or header names")

    fit = sub.add_parser(
        "fit", help="fit an echo state network on a CSV/.npy file and save it",
        description=_wrapped("Fit an echo state network (fastrnn.Reservoir + fastrnn.Ridge readout) "
                    "and save it with fastrnn.save. Without a target, the task is to predict "
                    "the input columns --horizon steps ahead (next-step prediction by "
                    "default). Prints the training NRMSE and R^2 of each target column."),
        epilog="examples:\n"
               "  fastrnn fit --input series.npy --output model.npz\n"
               "  fastrnn fit --input data.csv --input-cols u1,u2 --target-cols y "
               "--units 500 --ridge 1e-6 -o model.npz\n"
               "  fastrnn fit --input X.npy --target Y.npy --warmup 200 -o model.npz",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    g = fit.add_argument_group("data")
    g.add_argument("--input", "-i", required=True, metavar="FILE",
                   help="the inputs: " + data_help)
    g.add_argument("--target", "-t", metavar="FILE",
                   help="the targets, in a separate file with as many rows as --input")
    g.add_argument("--input-cols", metavar="COLS",
                   help=f"input columns: {cols_help}. Default: every column (that is not a "
                        "target column of the same file)")
    g.add_argument("--target-cols", metavar="COLS",
                   help="target columns, of --target if given, else of --input. Default: "
                        "every column of --target; without --target and --target-cols the "
                        "input columns, --horizon steps later")
    g.add_argument("--horizon", type=_nonnegative_int, metavar="H",
                   help="predict the target H steps after the input (default: 1 without a "
                        "target, 0 with one)")
    g.add_argument("--delimiter", default=",", metavar="CHAR", type=_delimiter,
                   help="CSV field separator (default ',')")
    g = fit.add_argument_group("model")
    g.add_argument("--units", metavar="N", type=_positive_int, default=300,
                   help="reservoir units (default 300)")
    g.add_argument("--sr", metavar="RHO", type=_finite_float, default=0.9,
                   help="spectral radius of the recurrent matrix (default 0.9)")
    g.add_argument("--lr", metavar="A", type=_finite_float, default=1.0,
                   help="leak rate in (0, 1] (default 1.0)")
    g.add_argument("--input-scaling", metavar="S", type=_finite_float, default=1.0,
                   help="scale of the input weights (default 1.0)")
    g.add_argument("--rc-connectivity", metavar="P", type=_finite_float, default=0.1,
                   help="density of the recurrent matrix, in (0, 1] (default 0.1)")
    g.add_argument("--input-connectivity", metavar="P", type=_finite_float, default=0.1,
                   help="density of the input matrix, in (0, 1] (default 0.1)")
    g.add_argument("--ridge", metavar="L", type=_finite_float, default=1e-6,
                   help="ridge (L2) penalty of the readout (default 1e-6)")
    g.add_argument("--warmup", metavar="W", type=_nonnegative_int, default=100,
                   help="first steps whose states are not used to fit (default 100)")
    g.add_argument("--seed", type=_int, default=0,
                   help="random seed of the reservoir's matrices (default 0: a fit is "
                        "reproducible)")
    g.add_argument("--dtype", choices=("float32", "float64"), default="float64",
                   help="precision (default float64)")
    g = fit.add_argument_group("output")
    g.add_argument("--output", "-o", required=True, metavar="MODEL",
                   help="where to save the model (a .npz file written by fastrnn.save)")
    g.add_argument("--chunk", type=_positive_int, metavar="STEPS",
                   help="steps per reservoir call, for the progress bar (default: 1%% of "
                        "the series, at least 1000; one call with more than 32 input columns); "
                        "the result does not depend on it")
    g.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    fit.set_defaults(handler=_cmd_fit)

    pred = sub.add_parser(
        "predict", help="run a saved model on a CSV/.npy file",
        description=_wrapped("Run an echo state network saved by `fastrnn fit` (read with "
                    "fastrnn.load, never unpickled) on input columns of a file. The "
                    "reservoir starts from the state it had at the end of its training "
                    "data (to continue that series); --reset starts from zeros instead."),
        epilog="examples:\n"
               "  fastrnn predict model.npz --input test.csv --output pred.csv\n"
               "  fastrnn predict model.npz -i test.npy -o pred.npy --reset\n"
               "  fastrnn predict model.npz -i data.csv --input-cols 0,1 > pred.csv",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    pred.add_argument("model", metavar="MODEL", help="a model file written by `fastrnn fit`")
    pred.add_argument("--input", "-i", required=True, metavar="FILE",
                      help="the inputs: " + data_help)
    pred.add_argument("--input-cols", metavar="COLS",
                      help=f"input columns: {cols_help}; as many as the model was fitted on "
                           "(default: every column)")
    pred.add_argument("--output", "-o", metavar="FILE",
                      help="where to write the predictions: .npy, or CSV (.csv, .txt); "
                           "standard output (CSV) if omitted or '-'")
    pred.add_argument("--reset", action="store_true",
                      help="start from the zero state, not the state saved at the end of "
                           "training (for a series unrelated to the training data)")
    pred.add_argument("--no-header", action="store_true", help="no header row in CSV output")
    pred.add_argument("--delimiter", default=",", metavar="CHAR", type=_delimiter,
                      help="CSV field separator of --input (default ',')")
    pred.add_argument("--quiet", "-q", action="store_true",
                      help="accepted for symmetry with fit and bench (predict shows no "
                           "progress bar: it is one call)")
    pred.set_defaults(handler=_cmd_predict)

    bench = sub.add_parser(
        "bench", help="a short benchmark: fastrnn against a plain NumPy loop",
        description=_wrapped("Time fastrnn against a plain NumPy loop of the same maths on the same "
                    "arrays: an RNN's forward+backward (BPTT) and a reservoir run. Prints "
                    "medians and ratios, and the largest difference between the two "
                    "results. bench/ in the source tree has the full benchmarks."),
        epilog="example:\n  fastrnn bench --hidden 32 128 512 --units 100 1000 --repeat 11",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("--only", choices=("rnn", "reservoir"), help="run one of the two jobs")
    bench.add_argument("--hidden", type=_positive_int, nargs="+", default=[32, 128],
                       metavar="H", help="RNN hidden sizes (default 32 128)")
    bench.add_argument("--length", type=_positive_int, default=100, metavar="T",
                       help="RNN sequence length (default 100)")
    bench.add_argument("--batch", type=_positive_int, default=32, metavar="B",
                       help="RNN batch size (default 32)")
    bench.add_argument("--units", type=_positive_int, nargs="+", default=[100, 500],
                       metavar="N", help="reservoir sizes (default 100 500)")
    bench.add_argument("--steps", type=_positive_int, default=2000, metavar="S",
                       help="reservoir time steps (default 2000)")
    bench.add_argument("--input-size", type=_positive_int, default=4, metavar="D",
                       help="input features of both jobs (default 4)")
    bench.add_argument("--dtype", choices=("float32", "float64"), default="float32",
                       help="precision (default float32)")
    bench.add_argument("--repeat", type=_positive_int, default=7,
                       help="timed calls per case; the median is reported (default 7)")
    bench.add_argument("--json", action="store_true", help="print the results as JSON")
    bench.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    bench.set_defaults(handler=_cmd_bench)

    demo = sub.add_parser(
        "demo", help="the README demo: a tanh RNN and an echo state network",
        description=_wrapped("Train a tanh RNN by BPTT on noisy sines of three frequencies, then an "
                    "echo state network on the Mackey-Glass series; print what was done, the "
                    "accuracy, and the speed against a plain NumPy loop."))
    demo.set_defaults(handler=_cmd_demo)
    return parser


def main(argv=None):
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return
    the exit status (0 success, 2 bad usage, data or model file)."""
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:   # --help, --version, or a usage error
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        args = parser.parse_args(["demo"])
    try:
        return args.handler(args)
    except KeyboardInterrupt:
        _say_err(f"fastrnn {args.command}: interrupted")
        return 130
    except BrokenPipeError:
        # The reader of standard output went away (e.g. `| head`): stop
        # quietly, and keep Python from complaining again when it flushes.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        return 1
    except Exception as exc:   # noqa: BLE001 - sorted by _error_message
        message = _error_message(exc)
        if message is None:
            raise   # a bug of fastrnn itself: its traceback is what to report
    _say_err(f"fastrnn {args.command}: error: {message}")
    return EXIT_USAGE


def _error_message(exc):
    """The one line to print for an exception that ends a command, or None
    for one that is a bug of fastrnn (and deserves its traceback).

    Classes, not cases: whatever the library refuses (ValueError, TypeError,
    an overflow), a file that cannot be read or written (OSError), text that
    cannot be encoded or decoded (UnicodeError) and an allocation that does
    not fit (MemoryError) are the user's input meeting a limit."""
    if isinstance(exc, (CLIError, TableError)):
        return str(exc)
    if isinstance(exc, MemoryError):
        detail = f" ({exc})" if str(exc) else ""
        return (f"not enough memory for this job{detail}; use a smaller model "
                "(--units) or less data")
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename is not None else ""
        return f"{where}{exc.strerror or exc}"
    if isinstance(exc, UnicodeError):
        return f"text that cannot be encoded or decoded: {exc}"
    if isinstance(exc, (ValueError, TypeError, ArithmeticError, np.linalg.LinAlgError)):
        return str(exc) or type(exc).__name__
    return None


if __name__ == "__main__":
    sys.exit(main())
