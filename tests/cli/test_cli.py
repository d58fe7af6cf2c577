"""The command line (fastrnn/cli/commands.py): fit -> save -> predict round trips
equal to fastrnn's classes called directly, every error path, --help."""
import json
import subprocess
import sys

import numpy as np
import pytest

import fastrnn
from fastrnn.cli.commands import main
from child_process import child_env

# Hyperparameters given explicitly on every command line below, and to the
# classes in `direct_esn`, so the comparison does not rest on defaults.
HYPER = {"units": 20, "sr": 0.8, "lr": 0.5, "input_scaling": 0.7, "rc_connectivity": 0.3,
         "input_connectivity": 1.0, "ridge": 1e-5, "seed": 3}
WARMUP = 10


def hyper_args(**changes):
    h = dict(HYPER, **changes)
    args = []
    for key, value in h.items():
        args += ["--" + key.replace("_", "-"), str(value)]
    return args + ["--warmup", str(WARMUP), "--quiet"]


def direct_esn(X, Y, dtype=np.float64, warmup=WARMUP):
    res = fastrnn.Reservoir(HYPER["units"], sr=HYPER["sr"], lr=HYPER["lr"],
                            input_scaling=HYPER["input_scaling"],
                            rc_connectivity=HYPER["rc_connectivity"],
                            input_connectivity=HYPER["input_connectivity"],
                            dtype=dtype, seed=HYPER["seed"])
    esn = fastrnn.ESN(res, fastrnn.Ridge(ridge=HYPER["ridge"], dtype=dtype))
    return esn.fit(X, Y, warmup=warmup)


def run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def series(T=160, seed=0):
    """Two inputs and a target that depends on their past."""
    rng = np.random.default_rng(seed)
    t = np.arange(T)
    u = np.c_[np.sin(0.2 * t), rng.uniform(-1, 1, T)]
    y = np.zeros(T)
    y[2:] = 0.6 * u[:-2, 0] * u[1:-1, 1] + 0.3 * u[2:, 0]
    return u, y


def write_csv(path, header, rows):
    with open(path, "w") as f:
        if header is not None:
            f.write(",".join(header) + "\n")
        for row in rows:
            f.write(",".join(str(v) for v in row) + "\n")
    return path


def assert_error(code, out, err, *fragments):
    """Exit status 2, one line on stderr naming what is asked, no traceback."""
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


@pytest.fixture
def csv_data(tmp_path):
    """A CSV with a header, a text column, two inputs and a target."""
    u, y = series()
    rows = [[f"day{i}"] + [repr(float(v)) for v in (a, b, c)]
            for i, (a, b, c) in enumerate(zip(u[:, 0], u[:, 1], y))]
    path = write_csv(tmp_path / "data.csv", ["date", "u1", "u2", "y"], rows)
    return path, u, y


# ------------------------------------------------------------ round trips
def test_fit_predict_csv_equals_the_classes_called_directly(tmp_path, capsys, csv_data):
    path, u, y = csv_data
    model = tmp_path / "model.npz"
    code, out, err = run(capsys, "fit", "--input", path, "--input-cols", "u1,u2",
                         "--target-cols", "y", *hyper_args(), "--output", model)
    assert code == 0, err
    esn = direct_esn(u, y[:, None])

    # the training figures printed are those of the direct fit's in-sample
    # predictions (from the zero state, after the warm-up)
    again = direct_esn(u, y[:, None]).reset()
    in_sample = again.predict(u)[WARMUP:, 0]
    nrmse = fastrnn.metrics.nrmse(y[WARMUP:], in_sample)
    assert f"y: training NRMSE {nrmse:.4g}" in out
    assert model.exists()

    # predictions on new data continue from the state at the end of training
    u_new, _ = series(T=50, seed=1)
    new = write_csv(tmp_path / "new.csv", ["u1", "u2"], u_new.tolist())
    pred_csv = tmp_path / "pred.csv"
    code, out, err = run(capsys, "predict", model, "--input", new, "--output", pred_csv)
    assert code == 0, err
    assert pred_csv.read_text().splitlines()[0] == "prediction"
    got = np.loadtxt(pred_csv, delimiter=",", skiprows=1)
    want = esn.predict(u_new)[:, 0]
    assert got.shape == (50,)
    assert np.array_equal(got, want)   # 17 significant digits read back exactly


def test_fit_predict_npy_float32_with_target_file(tmp_path, capsys):
    u, y = series(seed=2)
    np.save(tmp_path / "X.npy", u)
    np.save(tmp_path / "Y.npy", y)          # 1-D: one target column
    model = tmp_path / "m.npz"
    code, out, err = run(capsys, "fit", "-i", tmp_path / "X.npy", "-t", tmp_path / "Y.npy",
                         *hyper_args(), "--dtype", "float32", "-o", model)
    assert code == 0, err
    esn = direct_esn(u, y[:, None], dtype=np.float32)

    u_new, _ = series(T=40, seed=3)
    np.save(tmp_path / "new.npy", u_new)
    code, out, err = run(capsys, "predict", model, "-i", tmp_path / "new.npy", "--reset",
                         "-o", tmp_path / "pred.npy")
    assert code == 0, err
    got = np.load(tmp_path / "pred.npy")
    esn.reset()
    want = esn.predict(u_new.astype(np.float32))
    assert got.dtype == np.float32 and got.shape == (40, 1)
    assert np.array_equal(got, want)


def test_default_task_forecasts_the_input_horizon_steps_ahead(tmp_path, capsys):
    u, _ = series(seed=4)
    x = u[:, :1]
    np.save(tmp_path / "s.npy", x[:, 0])
    model = tmp_path / "m.npz"
    code, out, err = run(capsys, "fit", "-i", tmp_path / "s.npy", "--horizon", "3",
                         *hyper_args(), "-o", model)
    assert code == 0, err
    assert "3 step(s) ahead" in out
    esn = direct_esn(x[:-3], x[3:])
    loaded = fastrnn.load(model)
    probe = np.linspace(-1, 1, 30)[:, None]
    assert np.array_equal(loaded.predict(probe), esn.predict(probe))


@pytest.mark.parametrize("chunk", ["1", "7", "1000"])
def test_chunks_of_the_progress_bar_do_not_change_the_fit(tmp_path, capsys, chunk):
    u, y = series(seed=5)
    np.save(tmp_path / "X.npy", u)
    np.save(tmp_path / "Y.npy", y)
    model = tmp_path / "m.npz"
    code, _, err = run(capsys, "fit", "-i", tmp_path / "X.npy", "-t", tmp_path / "Y.npy",
                       *hyper_args(), "--chunk", chunk, "-o", model)
    assert code == 0, err
    esn = direct_esn(u, y[:, None])
    loaded = fastrnn.load(model)
    assert np.array_equal(loaded.readout.coef_, esn.readout.coef_)
    assert np.array_equal(loaded.reservoir.state, esn.reservoir.state)


@pytest.mark.parametrize("n_inputs", [32, 40])
def test_chunks_with_many_input_columns(tmp_path, capsys, n_inputs):
    # Up to 32 inputs the reservoir's input projection is row by row and the
    # chunks change nothing; beyond, the CLI must run the series in one call.
    rng = np.random.default_rng(n_inputs)
    u = rng.uniform(-1, 1, (90, n_inputs))
    y = np.tanh(u[:, :3].sum(axis=1))
    np.save(tmp_path / "X.npy", u)
    np.save(tmp_path / "Y.npy", y)
    model = tmp_path / "m.npz"
    code, _, err = run(capsys, "fit", "-i", tmp_path / "X.npy", "-t", tmp_path / "Y.npy",
                       *hyper_args(input_connectivity=0.5), "--dtype", "float32",
                       "--chunk", "7", "-o", model)
    assert code == 0, err
    res = fastrnn.Reservoir(HYPER["units"], sr=HYPER["sr"], lr=HYPER["lr"],
                            input_scaling=HYPER["input_scaling"],
                            rc_connectivity=HYPER["rc_connectivity"], input_connectivity=0.5,
                            dtype=np.float32, seed=HYPER["seed"])
    esn = fastrnn.ESN(res, fastrnn.Ridge(ridge=HYPER["ridge"], dtype=np.float32))
    esn.fit(u, y[:, None], warmup=WARMUP)
    loaded = fastrnn.load(model)
    assert np.array_equal(loaded.reservoir.state, esn.reservoir.state)
    assert np.array_equal(loaded.readout.coef_, esn.readout.coef_)


def test_columns_by_number_range_and_negative_index(tmp_path, capsys, csv_data):
    path, u, y = csv_data
    models = []
    for cols, target in (("1,2", "3"), ("1:3", "-1"), ("u1,2", "y")):
        models.append(tmp_path / f"m{len(models)}.npz")
        code, _, err = run(capsys, "fit", "-i", path, "--input-cols", cols, "--target-cols",
                           target, *hyper_args(), "-o", models[-1])
        assert code == 0, err
    coefs = [fastrnn.load(m).readout.coef_ for m in models]
    assert all(np.array_equal(c, coefs[0]) for c in coefs)


def test_target_cols_alone_take_the_other_columns_as_inputs(tmp_path, capsys):
    u, y = series(seed=6)
    path = write_csv(tmp_path / "d.csv", None, np.c_[u, y].tolist())   # no header
    model = tmp_path / "m.npz"
    code, _, err = run(capsys, "fit", "-i", path, "--target-cols", "2", *hyper_args(),
                       "-o", model)
    assert code == 0, err
    assert fastrnn.load(model).reservoir.input_dim == 2


def test_semicolons_comments_and_blank_lines(tmp_path, capsys):
    u, y = series(seed=10)
    lines = ["# exported by a logger", "u1;u2;y"]
    lines += [";".join(repr(float(v)) for v in row) for row in np.c_[u, y]]
    lines.insert(40, "")
    lines.insert(70, "# a comment between rows")
    path = tmp_path / "d.csv"
    path.write_text("\r\n".join(lines) + "\r\n")
    model = tmp_path / "m.npz"
    code, _, err = run(capsys, "fit", "-i", path, "--delimiter", ";", "--target-cols", "y",
                       *hyper_args(), "-o", model)
    assert code == 0, err
    esn = direct_esn(u, y[:, None])
    assert np.array_equal(fastrnn.load(model).readout.coef_, esn.readout.coef_)


def test_header_written_by_numpy_savetxt(tmp_path, capsys):
    u, y = series(seed=11)
    path = tmp_path / "d.csv"
    np.savetxt(path, np.c_[u, y], delimiter=",", header="u1,u2,y")   # "# u1,u2,y"
    model = tmp_path / "m.npz"
    code, _, err = run(capsys, "fit", "-i", path, "--input-cols", "u1,u2", "--target-cols",
                       "y", *hyper_args(), "-o", model)
    assert code == 0, err
    assert np.array_equal(fastrnn.load(model).readout.coef_,
                          direct_esn(u, y[:, None]).readout.coef_)


def test_predict_to_stdout(tmp_path, capsys):
    u, y = series(seed=7)
    np.save(tmp_path / "X.npy", u)
    np.save(tmp_path / "Y.npy", np.c_[y, -y])
    model = tmp_path / "m.npz"
    assert run(capsys, "fit", "-i", tmp_path / "X.npy", "-t", tmp_path / "Y.npy",
               *hyper_args(), "-o", model)[0] == 0
    code, out, err = run(capsys, "predict", model, "-i", tmp_path / "X.npy", "--reset")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == "prediction_0,prediction_1"
    got = np.array([[float(v) for v in line.split(",")] for line in lines[1:]])
    esn = direct_esn(u, np.c_[y, -y])
    esn.reset()
    assert np.array_equal(got, esn.predict(u))
    code, out, _ = run(capsys, "predict", model, "-i", tmp_path / "X.npy", "--no-header")
    assert code == 0 and not out.startswith("prediction")


# ------------------------------------------------------------ error paths
@pytest.fixture
def model_2_inputs(tmp_path, capsys):
    u, y = series(seed=8)
    np.save(tmp_path / "X.npy", u)
    np.save(tmp_path / "Y.npy", y)
    model = tmp_path / "m.npz"
    assert run(capsys, "fit", "-i", tmp_path / "X.npy", "-t", tmp_path / "Y.npy",
               *hyper_args(), "-o", model)[0] == 0
    return model


def test_missing_input_file(tmp_path, capsys):
    missing = tmp_path / "nope.csv"
    assert_error(*run(capsys, "fit", "-i", missing, "-o", tmp_path / "m.npz"),
                 str(missing), "no such file")


def test_not_numeric_names_the_cell(tmp_path, capsys):
    path = write_csv(tmp_path / "d.csv", ["a", "b"], [[1, 2], [3, "oops"], [5, 6]])
    assert_error(*run(capsys, "fit", "-i", path, "--warmup", "0", "-o", tmp_path / "m.npz"),
                 str(path), "'b'", "'oops'", "not a number", "line 3")


def test_empty_field_is_reported(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text("1,2\n3,\n5,6\n")
    assert_error(*run(capsys, "fit", "-i", path, "--warmup", "0", "-o", tmp_path / "m.npz"),
                 str(path), "column 1", "empty field", "line 2")


def test_text_in_an_unused_column_is_fine(tmp_path, capsys, csv_data):
    path, _, _ = csv_data   # column "date" holds text
    code, _, err = run(capsys, "fit", "-i", path, "--input-cols", "u1", "--target-cols", "y",
                       *hyper_args(), "-o", tmp_path / "m.npz")
    assert code == 0, err


def test_ragged_csv(tmp_path, capsys):
    path = tmp_path / "d.csv"
    path.write_text("a,b\n1,2\n3,4,5\n")
    assert_error(*run(capsys, "fit", "-i", path, "-o", tmp_path / "m.npz"),
                 str(path), "line 3", "3 fields, expected 2", "ragged")


def test_column_out_of_range(tmp_path, capsys, csv_data):
    path, _, _ = csv_data
    assert_error(*run(capsys, "fit", "-i", path, "--input-cols", "1,7", "-o",
                      tmp_path / "m.npz"),
                 str(path), "column 7", "out of range", "4 columns")


def test_column_named_twice_or_empty(tmp_path, capsys, csv_data):
    path, _, _ = csv_data
    assert_error(*run(capsys, "fit", "-i", path, "--input-cols", "u1,1", "-o",
                      tmp_path / "m.npz"),
                 str(path), "--input-cols", "names a column twice")
    assert_error(*run(capsys, "fit", "-i", path, "--input-cols", "u1,,u2", "-o",
                      tmp_path / "m.npz"),
                 str(path), "empty column name")


def test_unknown_header_name(tmp_path, capsys, csv_data):
    path, _, _ = csv_data
    assert_error(*run(capsys, "fit", "-i", path, "--input-cols", "u1", "--target-cols",
                      "price", "-o", tmp_path / "m.npz"),
                 str(path), "no column named 'price'", "u1, u2, y")


def test_header_name_for_a_file_without_header(tmp_path, capsys):
    np.save(tmp_path / "X.npy", np.ones((20, 2)))
    assert_error(*run(capsys, "fit", "-i", tmp_path / "X.npy", "--input-cols", "u1", "-o",
                      tmp_path / "m.npz"),
                 "X.npy", "'u1'", "no header")


@pytest.mark.parametrize("kind", ["csv", "npy"])
def test_nan_in_data(tmp_path, capsys, kind):
    data = np.arange(40.0).reshape(20, 2)
    data[13, 1] = np.nan
    if kind == "npy":
        path = tmp_path / "d.npy"
        np.save(path, data)
        where = "row 13"
    else:
        path = write_csv(tmp_path / "d.csv", ["a", "b"], data.tolist())
        where = "line 15"   # header on line 1, row 0 on line 2
    assert_error(*run(capsys, "fit", "-i", path, "--warmup", "0", "-o", tmp_path / "m.npz"),
                 str(path), "column 1", "NaN", where)


def test_infinity_in_data(tmp_path, capsys):
    path = write_csv(tmp_path / "d.csv", None, [[1.0], [float("inf")], [2.0]])
    assert_error(*run(capsys, "fit", "-i", path, "--warmup", "0", "-o", tmp_path / "m.npz"),
                 str(path), "not finite", "line 2")


def test_wrong_number_of_input_columns_for_the_model(tmp_path, capsys, model_2_inputs):
    np.save(tmp_path / "three.npy", np.ones((10, 3)))
    assert_error(*run(capsys, "predict", model_2_inputs, "-i", tmp_path / "three.npy"),
                 "three.npy", str(model_2_inputs), "takes 2 input columns, got 3")


def test_missing_model_file(tmp_path, capsys):
    np.save(tmp_path / "X.npy", np.ones((10, 2)))
    assert_error(*run(capsys, "predict", tmp_path / "none.npz", "-i", tmp_path / "X.npy"),
                 "none.npz", "no such file")


def test_corrupt_model_file(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a zip archive at all")
    np.save(tmp_path / "X.npy", np.ones((10, 2)))
    assert_error(*run(capsys, "predict", bad, "-i", tmp_path / "X.npy"), str(bad))


def test_model_of_another_class(tmp_path, capsys):
    path = tmp_path / "rnn.npz"
    fastrnn.save(fastrnn.RNN(2, 4, seed=0), path)
    np.save(tmp_path / "X.npy", np.ones((10, 2)))
    assert_error(*run(capsys, "predict", path, "-i", tmp_path / "X.npy"),
                 str(path), "fastrnn.RNN", "not an ESN")


def test_target_file_of_another_length(tmp_path, capsys):
    np.save(tmp_path / "X.npy", np.ones((30, 2)))
    np.save(tmp_path / "Y.npy", np.ones(29))
    assert_error(*run(capsys, "fit", "-i", tmp_path / "X.npy", "-t", tmp_path / "Y.npy",
                      "-o", tmp_path / "m.npz"),
                 "Y.npy", "29 rows", "30")


def test_warmup_longer_than_the_data(tmp_path, capsys):
    np.save(tmp_path / "s.npy", np.sin(np.arange(50.0)))
    assert_error(*run(capsys, "fit", "-i", tmp_path / "s.npy", "-o", tmp_path / "m.npz"),
                 "s.npy", "50 rows", "--warmup 100")


def test_bad_hyperparameter_is_reported_by_name(tmp_path, capsys):
    np.save(tmp_path / "s.npy", np.sin(np.arange(50.0)))
    assert_error(*run(capsys, "fit", "-i", tmp_path / "s.npy", "--warmup", "5", "--lr", "1.5",
                      "-o", tmp_path / "m.npz"),
                 "lr must be in (0.0, 1.0]", "1.5")


def test_output_directory_missing(tmp_path, capsys):
    np.save(tmp_path / "s.npy", np.sin(np.arange(50.0)))
    out = tmp_path / "no" / "m.npz"
    assert_error(*run(capsys, "fit", "-i", tmp_path / "s.npy", "-o", out),
                 str(out), "does not exist")


def test_npy_that_is_not_a_table(tmp_path, capsys):
    np.save(tmp_path / "cube.npy", np.ones((4, 3, 2)))
    assert_error(*run(capsys, "fit", "-i", tmp_path / "cube.npy", "-o", tmp_path / "m.npz"),
                 "cube.npy", "1-D or 2-D", "(4, 3, 2)")
    np.save(tmp_path / "obj.npy", np.array([{"a": 1}, None]), allow_pickle=True)
    assert_error(*run(capsys, "fit", "-i", tmp_path / "obj.npy", "-o", tmp_path / "m.npz"),
                 "obj.npy", "Python objects")
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY garbage")
    assert_error(*run(capsys, "fit", "-i", tmp_path / "junk.npy", "-o", tmp_path / "m.npz"),
                 "junk.npy", "not a readable .npy")


def test_binary_file_as_csv(tmp_path, capsys):
    path = tmp_path / "data.bin"
    path.write_bytes(bytes(range(256)))
    assert_error(*run(capsys, "fit", "-i", path, "-o", tmp_path / "m.npz"),
                 str(path), "not a text")


def test_unknown_output_extension(tmp_path, capsys, model_2_inputs):
    np.save(tmp_path / "X.npy", np.ones((10, 2)))
    assert_error(*run(capsys, "predict", model_2_inputs, "-i", tmp_path / "X.npy", "-o",
                      tmp_path / "pred.xlsx"),
                 "pred.xlsx", "unknown output type")


def test_horizon_zero_without_target(tmp_path, capsys):
    np.save(tmp_path / "s.npy", np.sin(np.arange(50.0)))
    assert_error(*run(capsys, "fit", "-i", tmp_path / "s.npy", "--horizon", "0", "--warmup",
                      "5", "-o", tmp_path / "m.npz"),
                 "--horizon must be >= 1")


def test_usage_errors_exit_2(capsys):
    code, _, err = run(capsys, "fit", "--units", "ten", "-i", "x.csv", "-o", "m.npz")
    assert code == 2 and "--units" in err and "'ten'" in err
    code, _, err = run(capsys, "predict")
    assert code == 2 and "required" in err
    code, _, err = run(capsys, "frobnicate")
    assert code == 2 and "frobnicate" in err


# ---------------------------------------------------- help, version, demo
@pytest.mark.parametrize("command", ["fit", "predict", "bench", "demo"])
def test_help_of_each_subcommand(capsys, command):
    code, out, _ = run(capsys, command, "--help")
    assert code == 0
    assert out.startswith(f"usage: fastrnn {command}")


def test_help_and_version(capsys):
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("fit", "predict", "bench", "demo"):
        assert command in out
    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"fastrnn {fastrnn.__version__}"


def test_no_arguments_runs_the_readme_demo(monkeypatch, capsys):
    calls = []
    monkeypatch.setattr("fastrnn.cli.demo.run_demo", lambda: calls.append("rnn"))
    monkeypatch.setattr("fastrnn.cli.demo_esn.run_demo", lambda: calls.append("esn"))
    assert main([]) == 0
    assert main(["demo"]) == 0
    assert calls == ["rnn", "esn", "rnn", "esn"]


# ------------------------------------------------------------------ bench
def test_bench_tiny_json(capsys):
    code, out, err = run(capsys, "bench", "--hidden", "3", "5", "--units", "12", "--length",
                         "4", "--batch", "2", "--steps", "15", "--input-size", "2",
                         "--repeat", "1", "--dtype", "float64", "--json", "--quiet")
    assert code == 0, err
    results = json.loads(out)
    assert [(r["job"], r.get("hidden", r.get("units"))) for r in results] == \
        [("rnn", 3), ("rnn", 5), ("reservoir", 12)]
    for r in results:
        assert r["fastrnn_ms"] > 0 and r["numpy_ms"] > 0
        assert r["ratio"] == pytest.approx(r["numpy_ms"] / r["fastrnn_ms"])
        assert r["max_difference"] < 1e-10   # both computed the same thing


def test_bench_text_one_job(capsys):
    code, out, _ = run(capsys, "bench", "--only", "reservoir", "--units", "10", "--steps",
                       "10", "--repeat", "1", "-q")
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == 2 and "reservoir run" in lines[1] and "x (max difference" in lines[1]


# --------------------------------------------------------------- progress
def test_plain_progress_line_without_tqdm(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)   # import tqdm -> ImportError
    np.save(tmp_path / "s.npy", np.sin(np.arange(60.0)))
    args = ["fit", "-i", tmp_path / "s.npy", "--units", "10", "--warmup", "5", "--chunk",
            "20", "-o", tmp_path / "m.npz"]
    code, _, err = run(capsys, *args)
    assert code == 0
    assert err.rstrip("\n").endswith("fit: 4/4 chunks")   # 3 chunks of the run + the solve
    code, _, err = run(capsys, *args, "--quiet")
    assert code == 0 and err == ""


def test_tqdm_progress_bar(tmp_path, capsys):
    pytest.importorskip("tqdm")
    code, _, err = run(capsys, "bench", "--only", "rnn", "--hidden", "3", "--length", "3",
                       "--batch", "1", "--repeat", "1")
    assert code == 0 and "bench" in err and "calls" in err


# ------------------------------------------------ as a separate process
def _subprocess_env():
    """Environment of a child `python -m fastrnn`, run in a scratch directory:
    from the repository root, `-m` would import the uncompiled source tree
    ahead of the installed package."""
    return child_env()


def test_python_m_fastrnn_error_exit_status(tmp_path):
    missing = tmp_path / "missing.csv"
    proc = subprocess.run([sys.executable, "-m", "fastrnn", "fit", "-i", str(missing), "-o",
                           str(tmp_path / "m.npz")], capture_output=True, text=True,
                          env=_subprocess_env(), cwd=tmp_path, timeout=120)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr == f"fastrnn fit: error: {missing}: no such file\n"


def test_python_m_fastrnn_round_trip(tmp_path):
    u, y = series(seed=9)
    path = write_csv(tmp_path / "d.csv", ["u1", "u2", "y"], np.c_[u, y].tolist())
    env = _subprocess_env()
    fit = subprocess.run([sys.executable, "-m", "fastrnn", "fit", "-i", str(path),
                          "--target-cols", "y", *hyper_args(), "-o", str(tmp_path / "m.npz")],
                         capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert fit.returncode == 0, fit.stderr
    pred = subprocess.run([sys.executable, "-m", "fastrnn", "predict", str(tmp_path / "m.npz"),
                           "-i", str(path), "--input-cols", "u1,u2", "--reset"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert pred.returncode == 0, pred.stderr
    got = np.loadtxt(pred.stdout.splitlines()[1:], delimiter=",")
    esn = direct_esn(u, y[:, None])
    esn.reset()
    assert np.array_equal(got, esn.predict(u)[:, 0])
