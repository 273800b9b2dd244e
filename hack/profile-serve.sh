#!/usr/bin/env bash
# profile-serve: where llmmon serve's CPU goes under the benchmarks' load.
#
# Runs `llmmon serve` (zero-work, as in bench-serve.sh) or, with
# GATEWAY=1, `llmmon serve --upstream` in front of one (as in
# bench-gateway.sh; the gateway is profiled), loads it with wrk and
# post.lua for DURATION, then prints the CPU profile's top entries, flat
# and cumulative. The profile stays in OUT (default /tmp/llmmon-serve.pprof)
# for `go tool pprof`.
#
#   bash hack/profile-serve.sh                # non-streamed
#   STREAM=1 bash hack/profile-serve.sh
#   GATEWAY=1 STREAM=1 bash hack/profile-serve.sh
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-10s}
CONNS=${CONNS:-32}
STREAM=${STREAM:-0}
GATEWAY=${GATEWAY:-0}
TOP=${TOP:-25}
OUT=${OUT:-/tmp/llmmon-serve.pprof}
BENCH=${BENCH:-$(git rev-parse --show-toplevel)/../shared/bench}
command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }

. hack/lib.sh
post_lua "$BENCH"

go build -trimpath -o "$tmp/llmmon" ./cmd/llmmon
go build -trimpath -o "$tmp/profiled" ./hack/profiled
engine=(serve --model demo --ttft 0 --itl 0 --prefill-overhead 0 --prefill-per-token 0 --jitter 0 --max-num-seqs 256)
port=$(free_port)
if [ "$GATEWAY" = 1 ]; then
	eport=$(free_port)
	"$tmp/llmmon" "${engine[@]}" --host 127.0.0.1 --port "$eport" >"$tmp/engine.log" 2>&1 &
	pids+=($!)
	wait_up "http://127.0.0.1:$eport" "$tmp/engine.log"
	CPUPROFILE=$OUT "$tmp/profiled" serve --host 127.0.0.1 --port "$port" --upstream "http://127.0.0.1:$eport/v1" >"$tmp/serve.log" 2>&1 &
else
	CPUPROFILE=$OUT "$tmp/profiled" "${engine[@]}" --host 127.0.0.1 --port "$port" >"$tmp/serve.log" 2>&1 &
fi
prof_pid=$!
wait_up "http://127.0.0.1:$port" "$tmp/serve.log"
STREAM=$STREAM wrk -t2 -c"$CONNS" -d"$DURATION" -s "$lua" "http://127.0.0.1:$port/v1/completions" | grep -E "Requests/sec|Non-2xx|errors"
kill -TERM "$prof_pid"; wait "$prof_pid" || true
go tool pprof -top -nodecount "$TOP" "$tmp/profiled" "$OUT" 2>/dev/null | sed -n '1,/^ *flat/p;/^ *flat/,$p' | head -$((TOP + 6))
echo
go tool pprof -top -cum -nodecount "$TOP" "$tmp/profiled" "$OUT" 2>/dev/null | awk '/^ *flat/ {p = 1} p' | head -$((TOP + 1))
