#!/usr/bin/env bash
# Fuzzes the frame decoder for a bounded time: ./run.sh [SECONDS] (default 60).
# Builds with libFuzzer and AddressSanitizer (swiftc -sanitize=fuzzer,address); the first
# build compiles SwiftNIO with the sanitizers and takes a few minutes.
set -euo pipefail
cd "$(dirname "$0")"
seconds="${1:-60}"
swift build -c debug --product FuzzFrameDecoder -Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library
swiftc -sanitize=fuzzer,address .build/debug/libFuzzFrameDecoder.a -o .build/fuzz-frame-decoder
mkdir -p corpus
exec .build/fuzz-frame-decoder corpus -max_total_time="$seconds" -max_len=8192 -timeout=10
