"""fastrnn.save / fastrnn.load: bit-exact round trips, atomic writes, and a
clear ValueError for every kind of damaged or forged file."""
import io as _stdio
import json
import os
import zipfile

import numpy as np
import pytest
import scipy.sparse as sp

import fastrnn
from fastrnn.io import format as fio


def _bits(a):
    """Bytes of an array: equality here is equality to the bit (-0.0 != 0.0, NaN payloads)."""
    a = np.ascontiguousarray(a)
    return a.dtype.str, a.shape, a.tobytes()


def _trained_rnn(dtype, rng, **kw):
    m = fastrnn.RNN(3, 5, dtype=dtype, seed=1, **kw)
    # Parameters that are not the seeded initialisation, as after training.
    for p in m.params.values():
        p += rng.standard_normal(p.shape).astype(dtype) * 0.1
    return m


# ------------------------------------------------------------ round trips
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("kw", [
    {}, {"nonlinearity": "relu"}, {"bias": False}, {"batch_first": True},
])
def test_rnn_round_trip_is_bit_exact(tmp_path, rng, dtype, kw):
    m = _trained_rnn(dtype, rng, **kw)
    path = tmp_path / "rnn.npz"
    fastrnn.save(m, path)
    m2 = fastrnn.load(path)
    assert type(m2) is fastrnn.RNN
    assert repr(m2) == repr(m)
    assert m2.params.keys() == m.params.keys()
    for k in m.params:
        assert _bits(m2.params[k]) == _bits(m.params[k]), k
    x = rng.standard_normal((4, 7, 3) if m.batch_first else (7, 4, 3))   # B = 4
    h0 = rng.standard_normal((1, 4, 5))
    y, h = m.forward(x, h0)
    y2, h2 = m2.forward(x, h0)
    assert _bits(y2) == _bits(y) and _bits(h2) == _bits(h)
    dy = rng.standard_normal(y.shape)
    dx, dh0 = m.backward(dy)
    dx2, dh02 = m2.backward(dy)
    assert _bits(dx2) == _bits(dx) and _bits(dh02) == _bits(dh0)
    # A loaded layer starts with zero gradients (they are not model state).
    m3 = fastrnn.load(path)
    assert all(not g.any() for g in m3.grads.values())


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("bias", [True, False])
def test_linear_round_trip_is_bit_exact(tmp_path, rng, dtype, bias):
    m = fastrnn.Linear(6, 4, bias=bias, dtype=dtype, seed=3)
    path = tmp_path / "lin.npz"
    fastrnn.save(m, str(path))
    m2 = fastrnn.load(str(path))
    assert type(m2) is fastrnn.Linear
    assert (m2.in_features, m2.out_features, m2.bias, m2.dtype) == (6, 4, bias, np.dtype(dtype))
    h = rng.standard_normal((5, 2, 6))
    assert _bits(m2.forward(h)) == _bits(m.forward(h))


def test_special_values_survive_to_the_bit(tmp_path):
    m = fastrnn.RNN(2, 3, dtype=np.float64, seed=0)
    w = m.params["weight_ih_l0"]
    w.flat[:6] = [np.nan, -np.inf, -0.0, 5e-324, np.finfo(np.float64).max, np.inf]
    nan_payload = np.array([0x7FF8_0000_0000_1234], dtype=np.uint64).view(np.float64)
    m.params["bias_ih_l0"][0] = nan_payload[0]
    fastrnn.save(m, tmp_path / "m.npz")
    m2 = fastrnn.load(tmp_path / "m.npz")
    for k in m.params:
        assert _bits(m2.params[k]) == _bits(m.params[k])


def test_file_is_a_plain_npz_readable_without_pickle(tmp_path):
    m = fastrnn.RNN(3, 4, seed=0)
    path = tmp_path / "m.npz"
    fastrnn.save(m, path)
    with np.load(path, allow_pickle=False) as z:
        header = json.loads(z["header"].tobytes().decode("utf-8"))
        assert header["format"] == "fastrnn"
        assert header["format_version"] == fio.FORMAT_VERSION
        assert header["fastrnn_version"] == fastrnn.__version__
        assert header["class"] == "RNN"
        assert header["config"] == {"input_size": 3, "hidden_size": 4, "nonlinearity": "tanh",
                                    "num_layers": 1, "bidirectional": False,
                                    "bias": True, "batch_first": False, "dtype": "float32"}
        np.testing.assert_array_equal(z["a/weight_hh_l0"], m.params["weight_hh_l0"])


def test_path_is_used_as_given(tmp_path):
    fastrnn.save(fastrnn.Linear(2, 2), tmp_path / "model.bin")
    assert os.listdir(tmp_path) == ["model.bin"]
    assert isinstance(fastrnn.load(tmp_path / "model.bin"), fastrnn.Linear)


# ----------------------------------------------------------- atomic writes
def test_failed_save_keeps_the_old_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "m.npz"
    old = fastrnn.RNN(3, 4, seed=0)
    fastrnn.save(old, path)
    before = path.read_bytes()

    calls = []
    real = fio._write_member

    def crash_after_one_member(zf, member, arr):
        calls.append(member)
        if len(calls) == 2:
            raise OSError("disk full (simulated)")
        real(zf, member, arr)

    monkeypatch.setattr(fio, "_write_member", crash_after_one_member)
    with pytest.raises(OSError, match="disk full"):
        fastrnn.save(fastrnn.RNN(3, 4, seed=1), path)
    assert len(calls) == 2
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["m.npz"]


def test_save_writes_a_synced_temporary_in_the_same_directory_then_renames(tmp_path,
                                                                           monkeypatch):
    events = []
    real_replace, real_fsync = os.replace, os.fsync

    def spy_replace(src, dst):
        events.append(("replace", os.path.dirname(os.path.abspath(src)), os.fspath(dst)))
        real_replace(src, dst)

    def spy_fsync(fd):
        events.append(("fsync",))
        real_fsync(fd)

    monkeypatch.setattr(fio.os, "replace", spy_replace)
    monkeypatch.setattr(fio.os, "fsync", spy_fsync)
    path = tmp_path / "m.npz"
    fastrnn.save(fastrnn.RNN(2, 3), path)
    kinds = [e[0] for e in events]
    assert "replace" in kinds and kinds.index("fsync") < kinds.index("replace")
    replace = events[kinds.index("replace")]
    assert replace[1] == str(tmp_path) and replace[2] == str(path)


# -------------------------------------------------------- damaged files
@pytest.fixture
def saved(tmp_path):
    m = fastrnn.RNN(2, 3, dtype=np.float32, seed=0)
    path = tmp_path / "m.npz"
    fastrnn.save(m, path)
    return m, path


def test_truncated_files_are_rejected(saved, tmp_path):
    m, path = saved
    data = path.read_bytes()
    cut = tmp_path / "cut.npz"
    for n in sorted({0, 1, 10, 100, len(data) // 3, len(data) // 2, len(data) - 22,
                     len(data) - 1}):
        cut.write_bytes(data[:n])
        with pytest.raises(ValueError, match=r"cut\.npz"):
            fastrnn.load(cut)


def test_every_single_byte_corruption_is_detected_or_harmless(saved, tmp_path):
    """Flip each byte of a saved file in turn. Loading must either raise
    ValueError or give back the very same model (bytes the format does not
    use, e.g. zip timestamps). Never another exception, never a changed model."""
    m, path = saved
    data = bytearray(path.read_bytes())
    bad = tmp_path / "bad.npz"
    detected = harmless = 0
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0xFF
        bad.write_bytes(bytes(flipped))
        try:
            m2 = fastrnn.load(bad)
        except ValueError as exc:
            assert "bad.npz" in str(exc)
            detected += 1
            continue
        assert repr(m2) == repr(m), f"byte {i}"
        for k in m.params:
            assert _bits(m2.params[k]) == _bits(m.params[k]), f"byte {i} changed {k}"
        harmless += 1
    # Every byte of the header text and of the arrays is covered by a
    # checksum; only zip bookkeeping (times, attributes) may pass.
    assert detected > 0.8 * len(data), (detected, harmless)


def _rewrite(path, *, header=None, members=None, drop=(), out=None):
    """Copy an .npz model file, editing its JSON header and/or members."""
    with zipfile.ZipFile(path) as zf:
        raw = {name: zf.read(name) for name in zf.namelist()}
    head = json.loads(np.load(_stdio.BytesIO(raw["header.npy"])).tobytes())
    if header is not None:
        header(head)
    buf = _stdio.BytesIO()
    np.lib.format.write_array(buf, np.frombuffer(json.dumps(head).encode(), np.uint8))
    raw["header.npy"] = buf.getvalue()
    for name, arr in (members or {}).items():
        buf = _stdio.BytesIO()
        np.lib.format.write_array(buf, arr, allow_pickle=True)
        raw[name] = buf.getvalue()
    out = out or path
    with zipfile.ZipFile(out, "w") as zf:
        for name, b in raw.items():
            if name not in drop:
                zf.writestr(name, b)
    return out


def _set(key, value):
    def edit(h):
        h[key] = value
    return edit


@pytest.mark.parametrize("edit, message", [
    (_set("format_version", 2), "unknown format version 2.*newer"),
    (_set("format_version", 0), "unknown format version 0"),
    (_set("format_version", "1"), "not an integer"),
    (_set("format", "something-else"), "does not describe a fastrnn model"),
    (_set("class", "Transformer"), "unknown class 'Transformer'"),
    (lambda h: h["arrays"]["weight_hh_l0"].update(shape=[3, 4]), "header says"),
    (lambda h: h["arrays"]["weight_hh_l0"].update(dtype="<f8"), "header says"),
    (lambda h: h["arrays"]["bias_ih_l0"].update(sha256="0" * 64), "SHA-256"),
    (lambda h: h["arrays"]["bias_ih_l0"].update(kind="pickle"), "unknown kind"),
    (lambda h: h["arrays"].pop("bias_hh_l0"), "not described by the header"),
    (lambda h: h["config"].update(hidden_size=4), "weight_ih_l0 must have shape"),
    (lambda h: h["config"].update(hidden_size=10**9), "must have shape"),
    (lambda h: h["config"].update(nonlinearity="sigmoid"), "nonlinearity"),
    (lambda h: h["config"].update(dtype="float64"), "must be float64"),
    (lambda h: h["config"].update(bias=False), "unexpected"),
    (lambda h: h["config"].update(execute="rm -rf /"), "execute"),
    (lambda h: h.pop("config"), "config"),
])
def test_tampered_header_is_rejected(saved, edit, message):
    m, path = saved
    _rewrite(path, header=edit)
    with pytest.raises(ValueError, match=message) as info:
        fastrnn.load(path)
    assert "m.npz" in str(info.value)


def test_arrays_not_matching_the_header_are_rejected(saved):
    m, path = saved
    _rewrite(path, members={"a/weight_hh_l0.npy": np.zeros((3, 3), np.float64)})
    with pytest.raises(ValueError, match="weight_hh_l0.*header says <f4"):
        fastrnn.load(path)
    _rewrite(path, members={"a/weight_hh_l0.npy": np.zeros((3, 3), np.float32)},
             out=path.parent / "other.npz")
    with pytest.raises(ValueError, match="SHA-256"):
        fastrnn.load(path.parent / "other.npz")


def test_missing_member_is_rejected(saved):
    m, path = saved
    _rewrite(path, drop=("a/weight_ih_l0.npy",))
    with pytest.raises(ValueError, match="weight_ih_l0.*missing"):
        fastrnn.load(path)


class _Boom:
    triggered = False

    def __reduce__(self):
        return (_Boom._trigger, ())

    @staticmethod
    def _trigger():
        _Boom.triggered = True
        return "pwned"


def test_object_arrays_are_never_unpickled(saved):
    m, path = saved
    evil = np.array([_Boom()], dtype=object)
    _rewrite(path, members={"a/bias_ih_l0.npy": evil})
    _Boom.triggered = False
    with pytest.raises(ValueError, match="dtype object"):
        fastrnn.load(path)
    assert not _Boom.triggered
    # The header member too.
    with zipfile.ZipFile(path) as zf:
        raw = {n: zf.read(n) for n in zf.namelist()}
    buf = _stdio.BytesIO()
    np.lib.format.write_array(buf, evil, allow_pickle=True)
    raw["header.npy"] = buf.getvalue()
    with zipfile.ZipFile(path, "w") as zf:
        for n, b in raw.items():
            zf.writestr(n, b)
    with pytest.raises(ValueError, match="dtype object"):
        fastrnn.load(path)
    assert not _Boom.triggered


def test_compressed_member_claiming_a_huge_size_is_rejected(saved):
    m, path = saved
    with zipfile.ZipFile(path) as zf:
        raw = {n: zf.read(n) for n in zf.namelist()}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for n, b in raw.items():
            zf.writestr(n, b)
    with pytest.raises(ValueError, match="compressed"):
        fastrnn.load(path)


def test_not_a_zip_and_missing_file(tmp_path):
    p = tmp_path / "text.npz"
    p.write_text("hello")
    with pytest.raises(ValueError, match="text.npz.*not a valid fastrnn model file"):
        fastrnn.load(p)
    with pytest.raises(FileNotFoundError):
        fastrnn.load(tmp_path / "absent.npz")
    # A valid .npz that is not a fastrnn model
    np.savez(tmp_path / "plain.npz", a=np.ones(3))
    with pytest.raises(ValueError, match="plain.npz.*header.npy.*missing"):
        fastrnn.load(tmp_path / "plain.npz")


# ------------------------------------------------------------ save errors
def test_unregistered_objects_are_refused(tmp_path):
    class MyRNN(fastrnn.RNN):
        pass

    for obj in (object(), MyRNN(2, 3), {"weight": np.ones(3)}):
        with pytest.raises(TypeError, match="obj: cannot save"):
            fastrnn.save(obj, tmp_path / "x.npz")
    assert not os.listdir(tmp_path)


# ------------------------------------ the generic protocol (for new classes)
@fio.register("test_io.SparseModel")
class SparseModel:
    """A stand-in for a reservoir: a sparse matrix, a dense array, a config."""

    def __init__(self, n, scale, matrix=None, readout=None):
        self.n, self.scale = n, scale
        if matrix is None:
            dense = np.random.default_rng(0).standard_normal((n, n))
            dense[np.abs(dense) < 1.0] = 0.0      # about a third non-zero
            matrix = sp.csr_array(dense)
        self.matrix = matrix
        self.readout = readout if readout is not None else np.arange(n, dtype=np.float64)

    def _save_config(self):
        return {"n": self.n, "scale": self.scale}

    def _save_arrays(self):
        return {"W": self.matrix, "readout.weight": self.readout,
                "steps": np.array(self.n * 10, dtype=np.int64),
                "mask": np.asfortranarray(np.eye(self.n, 3, dtype=bool))}

    @classmethod
    def _from_saved(cls, config, arrays):
        fio.expect_shapes(arrays, {"W": (config["n"], config["n"])}, "SparseModel")
        assert arrays["steps"].shape == () and arrays["steps"] == config["n"] * 10
        np.testing.assert_array_equal(arrays["mask"], np.eye(config["n"], 3, dtype=bool))
        return cls(config["n"], config["scale"], arrays["W"], arrays["readout.weight"])


@pytest.mark.parametrize("make", [sp.csr_array, sp.csr_matrix])
def test_registered_class_with_sparse_matrix_round_trips(tmp_path, make):
    m = SparseModel(6, 0.5)
    m.matrix = make(m.matrix)
    fastrnn.save(m, tmp_path / "s.npz")
    m2 = fastrnn.load(tmp_path / "s.npz")
    assert type(m2) is SparseModel and (m2.n, m2.scale) == (6, 0.5)
    assert type(m2.matrix) is type(m.matrix)
    for part in ("data", "indices", "indptr"):
        assert _bits(getattr(m2.matrix, part)) == _bits(getattr(m.matrix, part))
    assert _bits(m2.readout) == _bits(m.readout)
    assert "test_io.SparseModel" in fio.registered_classes()


@pytest.mark.parametrize("part, value, message", [
    ("indices", lambda a: a + 100, "column indices outside"),
    ("indices", lambda a: a - 100, "column indices outside"),
    ("indptr", lambda a: a[::-1].copy(), "indptr must rise"),
    ("indptr", lambda a: a[:-1].copy(), "rows \\+ 1"),
    ("data", lambda a: a[:-1].copy(), "indices for"),
])
def test_invalid_csr_structure_is_rejected(tmp_path, part, value, message):
    """Kernels trust CSR structure; a forged one must not reach them."""
    m = SparseModel(6, 0.5)
    path = tmp_path / "s.npz"
    fastrnn.save(m, path)
    forged = value(getattr(m.matrix, part))

    def fix_header(h):
        e = h["arrays"]["W"]["parts"][part]
        e["shape"] = list(forged.shape)
        import hashlib
        e["sha256"] = hashlib.sha256(np.ascontiguousarray(forged)).hexdigest()

    _rewrite(path, header=fix_header, members={f"a/W/{part}.npy": forged})
    with pytest.raises(ValueError, match=message):
        fastrnn.load(path)


def test_protocol_errors_are_clear(tmp_path):
    with pytest.raises(ValueError, match="already registered"):
        fio.register("RNN", SparseModel, get_config=dict, get_arrays=dict, build=dict)
    with pytest.raises(ValueError, match="name must be"):
        fio.register("bad name/", SparseModel)

    m = SparseModel(4, float("nan"))
    with pytest.raises(TypeError, match="JSON"):
        fastrnn.save(m, tmp_path / "nan.npz")
    m = SparseModel(4, 1.0)
    m.matrix = m.matrix.tocoo()
    with pytest.raises(TypeError, match="CSR"):
        fastrnn.save(m, tmp_path / "coo.npz")
    m = SparseModel(4, 1.0, readout=np.array(["a", "b"]))
    with pytest.raises(TypeError, match="readout.weight"):
        fastrnn.save(m, tmp_path / "str.npz")
    assert not os.listdir(tmp_path)


# ------------------------------------------------- round trips, fuzzed
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402

_BITS64 = st.integers(0, 2**64 - 1)


@settings(max_examples=int(os.environ.get("FASTRNN_FUZZ_EXAMPLES", "0")) or 60,
          deadline=None)
@given(D=st.integers(1, 5), H=st.integers(1, 6), dtype=st.sampled_from([np.float32, np.float64]),
       nonlinearity=st.sampled_from(["tanh", "relu"]), bias=st.booleans(),
       batch_first=st.booleans(), words=st.lists(_BITS64, min_size=1, max_size=8))
def test_any_parameter_bits_round_trip(tmp_path_factory, D, H, dtype, nonlinearity, bias,
                                       batch_first, words):
    """Arbitrary bit patterns (NaNs with payloads, subnormals, -0.0) in every
    parameter come back unchanged, whatever the configuration."""
    m = fastrnn.RNN(D, H, dtype=dtype, nonlinearity=nonlinearity, bias=bias,
                    batch_first=batch_first, seed=0)
    utype = np.uint32 if dtype == np.float32 else np.uint64
    for p in m.params.values():
        raw = np.resize(np.array(words, dtype=np.uint64).astype(utype), p.size)
        p[...] = raw.view(dtype).reshape(p.shape)
    path = tmp_path_factory.mktemp("rt") / "m.npz"
    fastrnn.save(m, path)
    m2 = fastrnn.load(path)
    assert repr(m2) == repr(m)
    for k in m.params:
        assert _bits(m2.params[k]) == _bits(m.params[k])
