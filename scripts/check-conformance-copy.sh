#!/usr/bin/env sh
# Checks that the repo's copy of the conformance vectors (tests/conformance) is byte-identical
# to the shared, read-only originals. Tests read only the repo copy, so a drifted copy would
# make them test something the real Phoenix server never sent.
#
# Usage: scripts/check-conformance-copy.sh [SHARED_DIR]
#   SHARED_DIR defaults to ../shared/conformance relative to the repository root.
set -eu

repo_root=$(cd "$(dirname "$0")/.." && pwd)
copy="$repo_root/tests/conformance"
shared="${1:-$repo_root/../shared/conformance}"

if [ ! -d "$shared" ]; then
    echo "note: $shared not found; nothing to compare the conformance copy against (skipped)."
    exit 0
fi
if [ ! -d "$copy" ]; then
    echo "error: $copy is missing; copy $shared there (byte-identical)." >&2
    exit 1
fi
if ! diff -r "$shared" "$copy"; then
    echo "error: tests/conformance differs from $shared (see diff above)." >&2
    echo "       The repo copy must be byte-identical: re-copy the shared files, do not edit them." >&2
    exit 1
fi
echo "ok: tests/conformance is identical to $shared"
