"""The portable build: csrc/ without its x86-specific code.

The C kernels must build on any machine with a C99 compiler. setup.py builds
only the portable paths with FASTRNN_PORTABLE=1 and on every machine that is
not x86-64. These tests compile csrc/ that way with the host compiler (and
with an AArch64 cross compiler when one is installed, as Debian's
gcc-aarch64-linux-gnu) and check that nothing ISA-specific is left in the
objects. The whole suite on a portable build is
``FASTRNN_PORTABLE=1 pip install . && pytest``.
"""
import pathlib
import platform
import shutil
import subprocess

import pytest

from fastrnn._core import _cpu, cpu

ROOT = pathlib.Path(__file__).resolve().parents[2]
CSRC = ROOT / "csrc"
SOURCES = sorted(CSRC.glob("*/*.c")) if CSRC.is_dir() else []
FLAGS = ["-std=c99", "-O1", "-Wall", "-Werror", "-Wno-unused-function", "-fno-math-errno",
         "-D_GNU_SOURCE", "-DFASTRNN_PORTABLE=1",
         *(f"-I{d}" for d in sorted(CSRC.glob("*")) if d.is_dir())]

needs_csrc = pytest.mark.skipif(not SOURCES, reason="csrc/ is not beside the tests")


def compile_objects(compiler, tmp_path, extra=()):
    objects = []
    for src in SOURCES:
        obj = tmp_path / (src.stem + ".o")
        out = subprocess.run([compiler, *FLAGS, *extra, "-c", str(src), "-o", str(obj)],
                             capture_output=True, text=True, timeout=300)
        assert out.returncode == 0, f"{compiler} {src.name}:\n{out.stderr[-3000:]}"
        objects.append(obj)
    return objects


def symbols(obj, nm="nm"):
    return subprocess.run([nm, str(obj)], capture_output=True, text=True, check=True).stdout


@needs_csrc
@pytest.mark.skipif(shutil.which("cc") is None or shutil.which("nm") is None,
                    reason="no C compiler or nm")
def test_portable_objects_have_no_isa_clones(tmp_path):
    text = "".join(symbols(o) for o in compile_objects("cc", tmp_path))
    # GCC names target_clones versions "<fn>.arch_x86_64_v3" and target()
    # functions keep their name, so look for both the clone suffixes and the
    # ifunc resolvers, and for the CPU tests (__cpu_model) of explicit dispatch.
    for marker in (".arch_", ".avx", ".resolver", "fr_res_isa", "__cpu_model"):
        assert marker not in text, f"portable objects still carry {marker!r}"
    assert "fr_small_gemv_f" in text     # the kernels themselves are there
    assert "fr_isa_level" in text


@needs_csrc
@pytest.mark.skipif(shutil.which("aarch64-linux-gnu-gcc") is None,
                    reason="no AArch64 cross compiler (Debian: gcc-aarch64-linux-gnu)")
def test_csrc_compiles_for_aarch64(tmp_path):
    objects = compile_objects("aarch64-linux-gnu-gcc", tmp_path)
    nm = shutil.which("aarch64-linux-gnu-nm") or "nm"
    assert all("fr_" in symbols(o, nm) for o in objects)
    out = subprocess.run(["file", str(objects[0])], capture_output=True, text=True)
    if out.returncode == 0:
        assert "aarch64" in out.stdout.lower() or "arm" in out.stdout.lower(), out.stdout


def test_build_flag_says_which_kernels_were_built():
    # PORTABLE_BUILD must tell the truth about the binary: the x86-64 build
    # carries the ISA-level clones of the kernels, the portable one none.
    binary = pathlib.Path(_cpu.__file__).read_bytes()
    has_clones = b".arch_x86_64_v3" in binary
    assert has_clones == cpu.HAS_ISA_CLONES
    if cpu.PORTABLE_BUILD:
        assert not has_clones
        assert cpu.isa_level() == "portable"
    if platform.machine().lower() not in ("x86_64", "amd64"):
        assert cpu.PORTABLE_BUILD


def _cpu_flags():
    try:
        text = pathlib.Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    for line in text.splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return None


@pytest.mark.skipif(not cpu.HAS_ISA_CLONES, reason="a build without ISA clones")
def test_isa_level_is_what_the_cpu_reports():
    flags = _cpu_flags()
    if flags is None:
        pytest.skip("no /proc/cpuinfo")
    v3 = {"avx", "avx2", "fma", "bmi1", "bmi2", "f16c", "movbe"} <= flags
    v4 = v3 and {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"} <= flags
    expected = "x86-64-v4" if v4 else "x86-64-v3" if v3 else "baseline"
    assert cpu.isa_level() == expected
