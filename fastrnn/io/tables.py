"""Tables of time series for the command line: CSV or ``.npy`` in, CSV or
``.npy`` out, and errors that say which file is at fault and why.

A table has one row per time step and one column per variable. A CSV file may
start with a header row (detected: a first row with any field that is not a
number, or, as ``numpy.savetxt`` writes it, a ``#`` comment just before the
numbers with one name per column); blank lines and other lines starting with
``#`` are skipped. A ``.npy``
file holds a 1-D array (one column) or a 2-D array (rows are time steps) and
is read with ``allow_pickle=False``.

Every problem is raised as :class:`TableError`, whose message starts with the
file name, so that the command line can print it as one line.
"""
import csv
import os

import numpy as np

from fastrnn.io.atomic import atomic_write


class TableError(ValueError):
    """A file that cannot be used as asked; the message names the file."""


class Table:
    """The raw cells of a table, columns converted to numbers on demand.

    Attributes
    ----------
    path : str
    names : list of str or None
        The header of a CSV file; None without one (and for ``.npy``).
    n_rows, n_columns : int
    """

    def __init__(self, path, names, n_rows, n_columns, *, cells=None, array=None,
                 line_numbers=None):
        self.path = path
        self.names = names
        self.n_rows = n_rows
        self.n_columns = n_columns
        self._cells = cells              # CSV: list of rows of strings
        self._array = array              # .npy: a 2-D numeric array
        self._line_numbers = line_numbers

    def describe_row(self, i):
        """Where row i is in the file, for messages: a CSV line or an array row."""
        if self._line_numbers is not None:
            return f"line {self._line_numbers[i]}"
        return f"row {i}"

    def column_label(self, j):
        if self.names is not None:
            return f"column {j} ({self.names[j]!r})"
        return f"column {j}"

    # ----------------------------------------------------------- columns
    def resolve(self, spec, option):
        """Column indices (list of int) from a spec such as ``"0,2"``,
        ``"price,volume"``, ``"1:4"`` or ``"-1"``; ``option`` names the
        command-line option in messages."""
        if spec is None:
            return list(range(self.n_columns))
        indices = []
        for token in (t.strip() for t in spec.split(",")):
            if not token:
                raise TableError(f"{self.path}: {option} {spec!r} has an empty column name")
            indices.extend(self._resolve_token(token, option))
        if len(set(indices)) != len(indices):
            raise TableError(f"{self.path}: {option} {spec!r} names a column twice")
        return indices

    def _resolve_token(self, token, option):
        if self.names is not None and token in self.names:
            return [self.names.index(token)]
        if ":" in token:
            start, _, stop = token.partition(":")
            try:
                lo = int(start) if start.strip() else None
                hi = int(stop) if stop.strip() else None
            except ValueError:
                pass
            else:
                picked = list(range(self.n_columns))[lo:hi]
                if not picked:
                    raise TableError(f"{self.path}: {option} range {token!r} selects no column "
                                     f"(the file has {self.n_columns} columns)")
                return picked
        try:
            index = int(token)
        except ValueError:
            if self.names is None:
                raise TableError(f"{self.path}: {option} names column {token!r}, but the file "
                                 "has no header row; give column numbers (from 0)") from None
            raise TableError(f"{self.path}: no column named {token!r} ({option}); its columns "
                             f"are {', '.join(self.names)}") from None
        if not -self.n_columns <= index < self.n_columns:
            raise TableError(f"{self.path}: column {index} ({option}) is out of range: the file "
                             f"has {self.n_columns} column{'s' if self.n_columns != 1 else ''} "
                             f"(0 to {self.n_columns - 1})")
        return [index % self.n_columns]

    def columns(self, indices, dtype=np.float64):
        """The columns ``indices`` as a (n_rows, len(indices)) array of
        ``dtype``, every value finite."""
        if self._array is not None:
            out = self._array[:, indices].astype(dtype)
        else:
            out = np.empty((self.n_rows, len(indices)), dtype=dtype)
            for k, j in enumerate(indices):
                out[:, k] = self._numeric_column(j)
        bad = ~np.isfinite(out)
        if bad.any():
            i, k = np.argwhere(bad)[0]
            value = out[i, k]
            what = "NaN" if np.isnan(value) else f"{value} (not finite)"
            raise TableError(f"{self.path}: {self.column_label(indices[k])} holds {what} at "
                             f"{self.describe_row(i)}; remove or fill missing values first")
        return out

    def _numeric_column(self, j):
        strings = [row[j] for row in self._cells]
        try:
            return np.array(strings, dtype=np.float64)
        except ValueError:
            pass
        # Slow path, only to say where the first bad cell is.
        for i, s in enumerate(strings):
            try:
                float(s)
            except ValueError:
                what = "an empty field" if not s.strip() else f"{s!r}, not a number"
                raise TableError(f"{self.path}: {self.column_label(j)} holds {what} at "
                                 f"{self.describe_row(i)}") from None
        raise TableError(f"{self.path}: {self.column_label(j)} is not numeric")


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def read_table(path, *, delimiter=","):
    """Open a CSV or ``.npy`` file as a :class:`Table` (numbers checked later,
    per column, by :meth:`Table.columns`)."""
    if not os.path.exists(path):
        raise TableError(f"{path}: no such file")
    if os.path.isdir(path):
        raise TableError(f"{path}: is a directory, not a data file")
    lower = path.lower()
    if lower.endswith(".npy"):
        return _read_npy(path)
    if lower.endswith(".npz"):
        raise TableError(f"{path}: .npz archives are not read as data; save the array with "
                         "numpy.save as .npy, or as CSV")
    return _read_csv(path, delimiter)


def _read_npy(path):
    try:
        arr = np.load(path, allow_pickle=False)
    except ValueError as exc:
        # NumPy's message for an object array mentions allow_pickle.
        if "pickle" in str(exc):
            raise TableError(f"{path}: holds Python objects, not numbers") from None
        raise TableError(f"{path}: not a readable .npy file ({exc})") from None
    except (OSError, EOFError) as exc:
        raise TableError(f"{path}: not a readable .npy file ({exc})") from None
    if not isinstance(arr, np.ndarray):
        raise TableError(f"{path}: not a .npy array")
    if arr.dtype.kind not in "biuf":
        raise TableError(f"{path}: holds {arr.dtype} values, not real numbers")
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise TableError(f"{path}: must hold a 1-D or 2-D array (rows are time steps), "
                         f"got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise TableError(f"{path}: is empty (shape {arr.shape})")
    return Table(path, None, arr.shape[0], arr.shape[1], array=arr)


def _read_csv(path, delimiter):
    if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in "\r\n\"":
        raise TableError(f"{path}: the delimiter must be one character (not a line break "
                         f"or '\"'), got {delimiter!r}")
    rows, lines = [], []
    comment_before_data = None
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.reader(f, delimiter=delimiter)
            for row in reader:
                if not row or not "".join(row).strip():
                    continue
                if row[0].lstrip().startswith("#"):
                    if not rows:
                        comment_before_data = row
                    continue
                rows.append([cell.strip() for cell in row])
                lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise TableError(f"{path}: not a text (UTF-8) CSV file") from None
    except csv.Error as exc:
        raise TableError(f"{path}: not a readable CSV file ({exc})") from None
    except OSError as exc:
        raise TableError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if not rows:
        raise TableError(f"{path}: holds no data rows")
    names = None
    if not all(_is_number(cell) for cell in rows[0]):
        names = rows.pop(0)
        lines.pop(0)
    elif comment_before_data is not None:
        # numpy.savetxt(..., header="a,b") writes the header as "# a,b": a
        # comment just before numeric rows, with one name per column, is one.
        row = comment_before_data
        candidate = [row[0].lstrip()[1:].strip()] + [cell.strip() for cell in row[1:]]
        if len(candidate) == len(rows[0]) and all(candidate) and \
                not any(_is_number(c) for c in candidate):
            names = candidate
    if names is not None:
        if len(set(names)) != len(names):
            dup = next(n for n in names if names.count(n) > 1)
            raise TableError(f"{path}: the header names column {dup!r} twice")
        if not rows:
            raise TableError(f"{path}: holds a header row but no data rows")
    width = len(names) if names is not None else len(rows[0])
    for row, line in zip(rows, lines):
        if len(row) != width:
            raise TableError(f"{path}: line {line} has {len(row)} fields, expected {width} "
                             f"like the {'header' if names is not None else 'first row'} "
                             "(ragged CSV)")
    return Table(path, names, len(rows), width, cells=rows, line_numbers=lines)


def write_table(path, array, names=None, *, stream=None):
    """Write a (T, O) array as ``.npy`` or CSV (chosen by the extension of
    ``path``), or as CSV on ``stream`` when ``path`` is None or ``"-"``.

    CSV numbers are written with enough digits to read back the same values
    (17 significant digits for float64, 9 for float32).
    """
    array = np.asarray(array)
    if path is not None and path != "-" and path.lower().endswith(".npy"):
        _atomic_write(path, lambda f: np.save(f, array, allow_pickle=False))
        return
    if path is not None and path != "-":
        ext = os.path.splitext(path)[1].lower()
        if ext not in (".csv", ".txt", ".tsv", ".dat"):
            raise TableError(f"{path}: unknown output type {ext or '(no extension)'!r}; use "
                             ".csv or .npy")
    digits = 9 if array.dtype == np.float32 else 17
    fmt = f"%.{digits}g"

    def emit(f):
        if names is not None:
            f.write(",".join(names) + "\n")
        np.savetxt(f, array, fmt=fmt, delimiter=",")

    if path is None or path == "-":
        emit(stream)
    else:
        _atomic_write(path, emit, text=True)


def _atomic_write(path, write, *, text=False):
    """fastrnn._atomic.atomic_write, with its failures as TableError naming
    the file (the command line prints those as one line)."""
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise TableError(f"{path}: the directory {directory} does not exist")
    try:
        atomic_write(path, write, text=text)
    except OSError as exc:
        raise TableError(f"{path}: cannot be written ({exc.strerror or exc})") from None
