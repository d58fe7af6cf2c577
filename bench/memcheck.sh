#!/usr/bin/env bash
# Run the kernel tests under Valgrind memcheck on a debug build of fastrnn and
# report invalid reads and writes (the target is zero).
#
#     bench/memcheck.sh [extra pytest arguments]
#
# What it does:
#   1. copies the source tree (tracked and new files, not build products) to a
#      temporary directory, so the optimised in-place build is left alone;
#   2. builds it with FASTRNN_DEBUG_BUILD=1 (setup.py: -O1 -g, Cython
#      boundscheck and initializedcheck on);
#   3. runs the tests that drive the kernels under valgrind, with
#      PYTHONMALLOC=malloc so that Python's own allocator does not hide
#      (or fake) errors, and BLAS on one thread;
#   4. prints the counts of "Invalid read" / "Invalid write" (and the other
#      memcheck error kinds), and exits 1 if any invalid access was seen.
#
# Takes a few minutes (valgrind slows Python ~30x). Not part of `pytest`.
# The fuzz tests are excluded: their worker processes are not traced, and the
# 10,000-step memory tests would take hours under valgrind.
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

TESTS=(tests/test_rnn.py tests/test_clip.py tests/test_activations.py tests/test_threads.py
       tests/test_io.py)
echo "memcheck: running ${TESTS[*]} under valgrind"
set +e
PYTHONMALLOC=malloc OPENBLAS_NUM_THREADS=1 PYTHONPATH="$work" \
valgrind --tool=memcheck --error-limit=no --num-callers=30 \
    --log-file="$work/valgrind.log" \
    "$PYTHON" -m pytest -q -p no:cacheprovider -x "${TESTS[@]}" \
        -k "not pytorch and not every_single_byte" "$@"
status=$?
set -e

log="$work/valgrind.log"
invalid_read=$(grep -c "Invalid read of size" "$log" || true)
invalid_write=$(grep -c "Invalid write of size" "$log" || true)
invalid_free=$(grep -c -E "Invalid free|Mismatched free" "$log" || true)
uninit=$(grep -c -E "uninitialised value|Uninitialised value" "$log" || true)
echo "memcheck: pytest exit status $status"
echo "memcheck: invalid reads:  $invalid_read"
echo "memcheck: invalid writes: $invalid_write"
echo "memcheck: invalid frees:  $invalid_free"
echo "memcheck: uses of uninitialised values: $uninit"
grep "ERROR SUMMARY" "$log" | tail -1
echo "memcheck: full log in $log"
if [ "$invalid_read" -ne 0 ] || [ "$invalid_write" -ne 0 ]; then
    grep -A12 -E "Invalid (read|write) of size" "$log" | head -80
    exit 1
fi
exit "$status"
