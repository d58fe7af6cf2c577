#!/usr/bin/env bash
# Run the kernel tests under Valgrind memcheck on a debug build of fastrnn and
# report invalid reads and writes (the target is zero).
#
#     bench/memcheck.sh [extra pytest arguments]
#     bench/memcheck.sh --selftest     # must report invalid writes and exit 1
#     MEMCHECK_TESTS="tests/reservoir/test_esn.py" bench/memcheck.sh   # only these files
#
# What it does:
#   1. copies the source tree (tracked and new files, not build products) to a
#      temporary directory, so the optimised in-place build is left alone;
#   2. builds it with FASTRNN_DEBUG_BUILD=1 (setup.py: -O1 -g, Cython
#      boundscheck and initializedcheck on);
#   3. runs the tests that drive the kernels under valgrind, with
#      PYTHONMALLOC=malloc so that Python's own allocator does not hide
#      (or fake) errors, and BLAS on one thread;
#   4. prints the counts of invalid reads/writes/frees and uses of
#      uninitialised values, split into those with a frame in fastrnn's
#      compiled code and those from CPython/glibc/OpenBLAS alone, and exits 1
#      if fastrnn's code made any invalid access.
#
# Takes a few minutes (valgrind slows Python ~30x). Not part of `pytest`.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-$(python -c "import sys; print(sys.executable)")}   # not a pyenv shim
command -v valgrind >/dev/null || { echo "memcheck: valgrind is not installed" >&2; exit 2; }

work=$(mktemp -d "${TMPDIR:-/tmp}/fastrnn-memcheck.XXXXXX")
echo "memcheck: debug build in $work"
git ls-files -z --cached --others --exclude-standard | xargs -0 cp --parents -t "$work"
cd "$work"
FASTRNN_DEBUG_BUILD=1 "$PYTHON" setup.py build_ext --inplace -j 2 -q >build.log 2>&1 \
    || { tail -30 build.log; exit 2; }

if [ "${1:-}" = "--selftest" ]; then
    # Check the checker: a kernel handed an output 100x too short (kernels
    # trust their inputs; the Python layer never does this) must be reported.
    echo "memcheck: self-test, a deliberate heap overflow in fr_sgd_step_d"
    # The momentum buffer is 100x too short: the kernel writes past its end.
    CMD=("$PYTHON" -c "import numpy as np; from fastrnn.training import _optim
_optim.sgd_step(np.ones(1000), np.ones(1000), np.empty(10), 0.1, 0.9, False, 0.0, True)")
else
    # Every test file but those whose work runs in child processes valgrind
    # does not trace (the fuzz server, Dask's workers, the bench scripts) and
    # the 10,000-step memory tests (hours under valgrind): new tests are
    # picked up without editing this script. MEMCHECK_TESTS="tests/a.py ..."
    # runs only those files.
    if [ -n "${MEMCHECK_TESTS:-}" ]; then
        read -r -a TESTS <<<"$MEMCHECK_TESTS"
    else
        mapfile -t TESTS < <(ls tests/test_*.py tests/*/test_*.py \
            | grep -v -E "/test_(fuzz(_[a-z]+)?|memory|dask|bench_scripts|docs|portable)\.py$")
    fi
    echo "memcheck: running ${TESTS[*]} under valgrind"
    CMD=("$PYTHON" -m pytest -q -p no:cacheprovider -x "${TESTS[@]}"
         -k "not pytorch and not every_single_byte and not demo" "$@")
fi
set +e
PYTHONMALLOC=malloc OPENBLAS_NUM_THREADS=1 PYTHONPATH="$work" \
valgrind --tool=memcheck --error-limit=no --num-callers=30 \
    --log-file="$work/valgrind.log" "${CMD[@]}"
status=$?
set -e

log="$work/valgrind.log"
echo "memcheck: pytest exit status $status; full log in $log"
# Classify memcheck's reports: those with a frame in fastrnn's compiled code
# (the Cython modules or csrc/) anywhere in their stack are ours, including
# BLAS calls made by our kernels; the rest come from CPython, glibc or
# OpenBLAS on their own (e.g. glibc's AVX2 wmemcmp reading past a string end,
# a known false positive) and are listed for reference.
"$PYTHON" - "$log" <<'PY'
import collections, re, sys
text = open(sys.argv[1]).read()
blocks, cur = [], []
for line in text.splitlines():
    line = re.sub(r"^==\d+== ?", "", line)
    if line.strip():
        cur.append(line)
    elif cur:
        blocks.append(cur)
        cur = []
import glob, os
# Source files of fastrnn's compiled code as valgrind names them: the C that
# Cython generates from fastrnn/**/_*.pyx, and csrc/*/*.[ch].
ours_files = sorted({os.path.splitext(os.path.basename(p))[0] + ".c"
                     for p in glob.glob("fastrnn/**/_*.pyx", recursive=True)}
                    | {os.path.basename(p) for p in glob.glob("csrc/*/*.[ch]")})
ours_re = re.compile(r"\((?:" + "|".join(map(re.escape, ours_files)) + r"):\d+\)"
                     r"|fastrnn/(?:\w+/)?_\w+\.cpython")
kinds = {"Invalid read": "invalid reads", "Invalid write": "invalid writes",
         "Invalid free": "invalid frees", "Mismatched free": "invalid frees",
         "Conditional jump": "uses of uninitialised values",
         "Use of uninitialised": "uses of uninitialised values",
         "Syscall param": "uninitialised syscall arguments"}
count = collections.Counter()
others = collections.Counter()
for b in blocks:
    kind = next((v for k, v in kinds.items() if b[0].startswith(k)), None)
    if kind is None:
        continue
    ours = any(ours_re.search(f) for f in b[1:])
    count[(kind, ours)] += 1
    if not ours:
        others[(kind, b[1].split(":", 1)[-1].strip()[:60] if len(b) > 1 else "")] += 1
for kind in sorted(set(kinds.values())):
    print(f"memcheck: {kind:32s} in fastrnn's code: {count[(kind, True)]:3d}   "
          f"elsewhere: {count[(kind, False)]:3d}")
print("memcheck: reports elsewhere, by top frame:")
for (kind, top), n in others.most_common(8):
    print(f"    {n:3d} x {kind}: {top}")
bad = count[("invalid reads", True)] + count[("invalid writes", True)] + count[("invalid frees", True)]
print(f"memcheck: RESULT: {bad} invalid reads/writes/frees in fastrnn's code")
sys.exit(1 if bad else 0)
PY
classified=$?
grep "ERROR SUMMARY" "$log" | tail -1
[ "$classified" -eq 0 ] || exit 1
exit "$status"
