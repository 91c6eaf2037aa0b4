# Sourced by .ci/run and ci/test: `timed CMD...` runs CMD, then says how long it took and how
# long the script has run (CI keeps well under 20 minutes; this is where to look).
timed() {
    local start=$SECONDS
    "$@"
    echo "== $* took $((SECONDS - start)) s (${SECONDS} s so far)"
}
