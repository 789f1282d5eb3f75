#!/usr/bin/env bash
# Fuzz smoke run: build every cargo-fuzz target and run each for FUZZ_SECONDS (default 60)
# from the committed seeds. A crash exits non-zero; save its input under
# fuzz/regressions/<target>/ so `cargo test` replays it from then on.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${FUZZ_SECONDS:-60}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install --locked cargo-fuzz
fi

# cargo-fuzz's default address sanitizer needs nightly flags; stable accepts them with
# RUSTC_BOOTSTRAP=1, set for these commands only.
targets=$(cargo fuzz list)
RUSTC_BOOTSTRAP=1 cargo fuzz build
for t in $targets; do
    corpus="$(mktemp -d)"
    log="$(mktemp)"
    echo "fuzzing $t for ${seconds}s"
    status=0
    RUSTC_BOOTSTRAP=1 cargo fuzz run "$t" "$corpus" "seeds/$t" -- \
        -max_total_time="$seconds" -print_final_stats=1 >"$log" 2>&1 || status=$?
    grep -E "^(#[0-9]+ +DONE|stat::number_of_executed_units)|ERROR|SUMMARY|panicked" "$log" || true
    if [ "$status" -ne 0 ]; then
        tail -40 "$log" >&2
    fi
    rm -rf "$corpus" "$log"
    if [ "$status" -ne 0 ]; then
        echo "fuzz target $t failed (exit $status); the crashing input is in fuzz/artifacts/$t/" >&2
        exit "$status"
    fi
done
echo "fuzz smoke run: all targets passed"
