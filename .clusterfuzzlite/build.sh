#!/usr/bin/env bash
# Builds every cargo-fuzz target of sansnet the way OSS-Fuzz and ClusterFuzzLite do, into
# $OUT: one binary per target, its seed corpus as <target>_seed_corpus.zip (from
# fuzz/corpus/<target>) and the dictionary as <target>.dict. The targets are whatever
# `cargo fuzz list` says, so a new one needs no change here.
#
# In the OSS-Fuzz image $SRC, $OUT and $SANITIZER are set (and cargo-fuzz, nightly Rust);
# elsewhere (ci/oss-fuzz-build) they default to this checkout, a temporary directory and
# no sanitizer.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
: "${OUT:?set OUT to the directory the fuzzers go to}"
sanitizer=${SANITIZER:-address}
case "$sanitizer" in
    address | memory | thread | none) ;;
    # OSS-Fuzz's "undefined" and "coverage" builds are plain builds for Rust.
    *) sanitizer=none ;;
esac
cd "$root/fuzz"
if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
    fuzz=(cargo +nightly fuzz)
else
    fuzz=(env RUSTC_BOOTSTRAP=1 cargo fuzz)
fi
# Release with debug assertions and overflow checks on: what `cargo fuzz build` does
# by default, so that ci/fuzz and this script share one build.
"${fuzz[@]}" build -O --debug-assertions --sanitizer "$sanitizer"
triple=$(rustc -vV | sed -n 's/^host: //p')
bin_dir=target/$triple/release
mkdir -p "$OUT"
mapfile -t targets < <("${fuzz[@]}" list)
[[ ${#targets[@]} -gt 0 ]] || { echo "no fuzz targets" >&2; exit 1; }
for target in "${targets[@]}"; do
    cp "$bin_dir/$target" "$OUT/$target"
    cp "$root/fuzz/sansnet.dict" "$OUT/$target.dict"
    python3 - "$root/fuzz/corpus/$target" "$OUT/${target}_seed_corpus.zip" <<'PY'
import os, sys, zipfile
corpus, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    if os.path.isdir(corpus):
        for name in sorted(os.listdir(corpus)):
            path = os.path.join(corpus, name)
            if os.path.isfile(path):
                z.write(path, name)
PY
done
echo "built ${#targets[@]} fuzz targets into $OUT"
