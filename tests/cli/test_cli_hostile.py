"""The command line's promise under hostile input (issue 11): one line on
standard error, exit status 2 (130 when interrupted), never a traceback,
whatever class of error ends a command."""
import os
import resource
import subprocess
import sys

import numpy as np
import pytest

from fastrnn.cli import commands as cli

from test_cli import _subprocess_env, assert_error, run


@pytest.fixture
def series_csv(tmp_path):
    path = tmp_path / "s.csv"
    np.savetxt(path, np.sin(np.arange(200) / 5.0)[:, None])
    return path


def _fastrnn(args, cwd, env_extra=None, limit_bytes=None):
    env = _subprocess_env()
    env.update(env_extra or {})

    def limit():
        resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))

    return subprocess.run([sys.executable, "-m", "fastrnn", *args], capture_output=True,
                          env=env, cwd=cwd, timeout=120,
                          preexec_fn=limit if limit_bytes else None)


def _one_error_line(proc):
    err = proc.stderr.decode("ascii")   # everything escaped to ASCII below
    assert proc.returncode == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


def test_an_allocation_that_does_not_fit_is_one_line(tmp_path, series_csv):
    """--units 10**9 needs a 7.5 GiB array at once; under a 3 GiB address
    space limit that is a MemoryError, reported as one line."""
    proc = _fastrnn(["fit", "-i", str(series_csv), "-o", "m.npz", "--units", "1000000000",
                     "-q"], tmp_path, {"PYTHONIOENCODING": "ascii"}, limit_bytes=3 * 2**30)
    line = _one_error_line(proc)
    assert line.startswith("fastrnn fit: error: not enough memory")
    assert not (tmp_path / "m.npz").exists()


@pytest.mark.parametrize("delimiter", ["", ";;", "\n", '"'])
@pytest.mark.parametrize("command", ["fit", "predict"])
def test_a_delimiter_that_is_not_one_character_is_a_usage_error(tmp_path, capsys, series_csv,
                                                                delimiter, command):
    args = (["fit", "-o", str(tmp_path / "m.npz")] if command == "fit"
            else ["predict", str(tmp_path / "m.npz")])
    code, out, err = run(capsys, *args, "-i", series_csv, "--delimiter", delimiter)
    assert code == 2 and out == "" and "Traceback" not in err
    assert "--delimiter: must be one character" in err.strip().splitlines()[-1]


def test_the_table_reader_refuses_a_bad_delimiter_itself(series_csv):
    from fastrnn.io.tables import TableError, read_table

    for delimiter in ("", "ab", None, 3):
        with pytest.raises(TableError, match="delimiter"):
            read_table(str(series_csv), delimiter=delimiter)


def test_an_output_name_the_terminal_cannot_print(tmp_path, series_csv):
    """A non-ASCII model name under PYTHONIOENCODING=ascii: the fit succeeds
    and the report shows the name escaped."""
    name = "mod\u00e8le-\u4e00.npz"
    proc = _fastrnn(["fit", "-i", str(series_csv), "-o", name, "--units", "10", "--warmup",
                     "5", "-q"], tmp_path, {"PYTHONIOENCODING": "ascii"})
    assert proc.returncode == 0, proc.stderr
    assert b"saved to mod\\xe8le-\\u4e00.npz" in proc.stdout
    assert (tmp_path / name).exists()


def test_an_undecodable_output_name_in_the_c_locale(tmp_path, series_csv):
    """Bytes that are not UTF-8 in a file name reach Python as lone
    surrogates; printed escaped, in a success line and in an error line."""
    env = {"LANG": "C", "LC_ALL": "C", "PYTHONIOENCODING": "ascii"}
    ok = _fastrnn([b"fit", b"-i", os.fsencode(series_csv), b"-o", b"m\xff.npz", b"--units",
                   b"10", b"--warmup", b"5", b"-q"], tmp_path, env)
    assert ok.returncode == 0, ok.stderr
    assert b"saved to m\\udcff.npz" in ok.stdout
    assert os.path.exists(os.path.join(os.fsencode(tmp_path), b"m\xff.npz"))
    bad = _fastrnn([b"fit", b"-i", b"in\xfe\x1b[31m.csv", b"-o", b"m.npz"], tmp_path, env)
    line = _one_error_line(bad)
    assert "in\\udcfe\\x1b[31m.csv: no such file" in line


@pytest.mark.parametrize("exc", [
    MemoryError(), MemoryError("Unable to allocate 7.45 GiB"),
    OSError(28, "No space left on device", "out.npz"), PermissionError("denied"),
    UnicodeEncodeError("ascii", "\u00e8", 0, 1, "ordinal not in range(128)"),
    ValueError("units must be >= 1\nsecond line"), TypeError("dtype must be float"),
    OverflowError("Python int too large to convert to C long"), ZeroDivisionError(),
])
def test_every_class_of_input_error_ends_in_one_line(monkeypatch, capsys, tmp_path, series_csv,
                                                     exc):
    def fail(args, X, Y):
        raise exc

    monkeypatch.setattr(cli, "_fit_esn", fail)
    code, out, err = run(capsys, "fit", "-i", series_csv, "-o", tmp_path / "m.npz", "-q")
    assert_error(code, out, err, "fastrnn fit: error: ")
    if isinstance(exc, MemoryError):
        assert "not enough memory" in err
    if isinstance(exc, OSError):
        assert "out.npz: No space left" in err or "denied" in err


def test_keyboard_interrupt_is_one_line_and_status_130(monkeypatch, capsys, tmp_path,
                                                       series_csv):
    def interrupted(args, X, Y):
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "_fit_esn", interrupted)
    code, out, err = run(capsys, "fit", "-i", series_csv, "-o", tmp_path / "m.npz", "-q")
    assert code == 130
    assert err == "fastrnn fit: interrupted\n"


def test_control_characters_in_a_message_are_escaped(capsys, tmp_path):
    code, out, err = run(capsys, "fit", "-i", tmp_path / "a\x1b[2Jb\x07.csv", "-o",
                         tmp_path / "m.npz")
    assert_error(code, out, err, "a\\x1b[2Jb\\x07.csv: no such file")
    assert "\x1b" not in err and "\x07" not in err


def test_printable_keeps_what_the_stream_can_show():
    class Stream:
        encoding = "utf-8"

    assert cli._printable("caf\u00e9 \u4e00\n2", Stream()) == "caf\u00e9 \u4e00 2"
    Stream.encoding = "ascii"
    assert cli._printable("caf\u00e9 \udcff", Stream()) == "caf\\xe9 \\udcff"
    Stream.encoding = "no-such-codec"
    assert cli._printable("caf\u00e9", Stream()) == "caf\\xe9"
