#!/usr/bin/env bash
# bench-gateway: what does `llmmon serve --upstream` cost in front of an engine?
#
# Starts `llmmon serve` (the simulated engine, model "demo", no simulated
# delay) and a second `llmmon serve --upstream` in front of it, then in one
# run sends the same wrk load (../shared/bench/post.lua, 16 tokens) directly
# to the engine and through the gateway, non-streamed and streamed:
#
#   - latency: one connection (-c1), p50 and p99 from wrk --latency, the
#     median over ROUNDS alternating rounds; the gateway's added latency is
#     gateway minus direct (goal: p50 <= 0.2 ms, p99 <= 1 ms);
#   - throughput: CONNS connections; gateway req/s over direct req/s
#     (goal: >= 85%).
#
# Everything shares this machine's cores, so with no simulated delay the
# gateway competes with the engine and wrk for CPU, and the throughput ratio
# measures the gateway's CPU cost per request, which the script prints: a
# gateway serves HTTP on one side and is a client on the other, so it costs
# at least what a zero-work engine does, and on shared cores the ratio
# cannot pass ~0.5. ITL=1ms repeats the throughput run with a simulated
# engine that takes ~16 ms per request, the realistic case where the
# engine, not the gateway, is the bottleneck.
#
#   bash hack/bench-gateway.sh
#   DURATION=10s CONNS=64 ITL=2ms bash hack/bench-gateway.sh
#   STRICT=1 bash hack/bench-gateway.sh     # exit 1 when a goal is missed
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-6s}
LAT_DURATION=${LAT_DURATION:-3s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
ITL=${ITL:-1ms}
STRICT=${STRICT:-0}

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# The request wrk sends: post.lua from ../shared/bench next to the checkout
# when present, else the same script inline (a fresh checkout has no ../shared).
lua="$(git rev-parse --show-toplevel 2>/dev/null || pwd)/../shared/bench/post.lua"
if [ ! -f "$lua" ]; then
	lua=$tmp/post.lua
	cat >"$lua" <<'EOF'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local stream = os.getenv("STREAM") == "1"
wrk.body = '{"model":"demo","prompt":"Say something about monitoring.","max_tokens":16,"stream":' .. (stream and "true" or "false") .. '}'
EOF
fi

go build -o "$tmp/llmmon" ./cmd/llmmon
freeport() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
waitup() {
	for _ in $(seq 100); do curl -sf "$1/health" >/dev/null && return 0; sleep 0.1; done
	echo "$2 did not start:" >&2; cat "$3" >&2; exit 1
}
start_engine() { # port itl log
	"$tmp/llmmon" serve --host 127.0.0.1 --port "$1" --model demo \
		--ttft 0 --itl "$2" --prefill-overhead 0 --prefill-per-token 0 --jitter 0 \
		--max-num-seqs 256 >"$3" 2>&1 &
	pids+=($!)
	waitup "http://127.0.0.1:$1" "llmmon serve" "$3"
}
start_gateway() { # port upstream-port log
	"$tmp/llmmon" serve --host 127.0.0.1 --port "$1" --upstream "http://127.0.0.1:$2/v1" >"$3" 2>&1 &
	pids+=($!)
	waitup "http://127.0.0.1:$1" "llmmon serve --upstream" "$3"
}

eport=$(freeport); gport=$(freeport)
start_engine "$eport" 0 "$tmp/engine.log"
engine_pid=${pids[-1]}
start_gateway "$gport" "$eport" "$tmp/gateway.log"
gateway_pid=${pids[-1]}
# cpu PID → the process's user+system CPU time so far, in clock ticks.
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)
direct=http://127.0.0.1:$eport/v1/completions
gateway=http://127.0.0.1:$gport/v1/completions

# ms converts wrk's "123.45us" / "1.20ms" / "1.01s" to milliseconds.
ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }
pct() { awk -v p="$1%" '$1 == p { print $2 }' <<<"$2"; }
rps() { awk '/^Requests\/sec:/ {print $2}' <<<"$1"; }
median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }
errs() { awk '/Non-2xx|Socket errors/ {print}' <<<"$1"; }

run() { # stream conns threads duration url
	STREAM=$1 wrk -t"$3" -c"$2" -d"$4" --latency -s "$lua" "$5"
}

fail=0
check() { # label ok(0/1)
	if [ "$2" = 1 ]; then echo "  goal met:    $1"; else echo "  goal MISSED: $1"; fail=1; fi
}

echo "bench-gateway: wrk → llmmon serve --upstream → llmmon serve, vs wrk → llmmon serve (16 tokens, no simulated delay)"
for stream in 0 1; do
	label=non-streamed; [ "$stream" = 1 ] && label=streamed
	# Warm both paths (connections, pools).
	run "$stream" 8 1 1s "$direct" >/dev/null
	run "$stream" 8 1 1s "$gateway" >/dev/null

	# Latency: ROUNDS alternating runs of each, and the median of their
	# percentiles, so a burst of other work on a shared machine lands on one
	# round rather than on one side.
	d50s=(); d99s=(); g50s=(); g99s=()
	for _ in $(seq "$ROUNDS"); do
		d_lat=$(run "$stream" 1 1 "$LAT_DURATION" "$direct")
		g_lat=$(run "$stream" 1 1 "$LAT_DURATION" "$gateway")
		for out in "$d_lat" "$g_lat"; do
			e=$(errs "$out"); [ -n "$e" ] && { echo "  wrk reported errors: $e"; fail=1; }
		done
		d50s+=("$(ms "$(pct 50 "$d_lat")")"); d99s+=("$(ms "$(pct 99 "$d_lat")")")
		g50s+=("$(ms "$(pct 50 "$g_lat")")"); g99s+=("$(ms "$(pct 99 "$g_lat")")")
	done
	d50=$(median "${d50s[@]}"); d99=$(median "${d99s[@]}")
	g50=$(median "${g50s[@]}"); g99=$(median "${g99s[@]}")
	a50=$(awk -v a="$g50" -v b="$d50" 'BEGIN { printf "%.3f", a - b }')
	a99=$(awk -v a="$g99" -v b="$d99" 'BEGIN { printf "%.3f", a - b }')

	e0=$(cpu "$engine_pid")
	d_tp=$(run "$stream" "$CONNS" "$THREADS" "$DURATION" "$direct")
	e1=$(cpu "$engine_pid"); g1=$(cpu "$gateway_pid")
	g_tp=$(run "$stream" "$CONNS" "$THREADS" "$DURATION" "$gateway")
	e2=$(cpu "$engine_pid"); g2=$(cpu "$gateway_pid")
	drps=$(rps "$d_tp"); grps=$(rps "$g_tp")
	ratio=$(awk -v a="$grps" -v b="$drps" 'BEGIN { printf "%.3f", a / b }')
	dreqs=$(awk '/requests in/ {print $1}' <<<"$d_tp"); greqs=$(awk '/requests in/ {print $1}' <<<"$g_tp")
	# CPU per request: the engine's in the direct run; the gateway's and
	# the engine's in the gateway run.
	cpu_e=$(awk -v c=$((e1 - e0)) -v n="$dreqs" -v t="$tick" 'BEGIN { printf "%.1f", c / t / n * 1e6 }')
	cpu_g=$(awk -v c=$((g2 - g1)) -v n="$greqs" -v t="$tick" 'BEGIN { printf "%.1f", c / t / n * 1e6 }')
	cpu_ge=$(awk -v c=$((e2 - e1)) -v n="$greqs" -v t="$tick" 'BEGIN { printf "%.1f", c / t / n * 1e6 }')

	echo
	echo "$label:"
	printf '  latency, 1 connection, median of %s rounds:  direct p50 %s ms  p99 %s ms | gateway p50 %s ms  p99 %s ms\n' "$ROUNDS" "$d50" "$d99" "$g50" "$g99"
	printf '    rounds: direct p50 %s  p99 %s | gateway p50 %s  p99 %s\n' "${d50s[*]}" "${d99s[*]}" "${g50s[*]}" "${g99s[*]}"
	printf '  added by the gateway:   p50 %s ms  p99 %s ms\n' "$a50" "$a99"
	printf '  throughput, %s conns:   direct %s req/s | gateway %s req/s | ratio %s\n' "$CONNS" "$drps" "$grps" "$ratio"
	printf '  CPU per request:        engine %s us (direct) | gateway %s us + engine %s us (through the gateway)\n' "$cpu_e" "$cpu_g" "$cpu_ge"
	for out in "$d_tp" "$g_tp"; do
		e=$(errs "$out"); [ -n "$e" ] && { echo "  wrk reported errors: $e"; fail=1; }
	done
	check "added p50 $a50 ms <= 0.2 ms" "$(awk -v a="$a50" 'BEGIN { print (a <= 0.2) }')"
	check "added p99 $a99 ms <= 1 ms" "$(awk -v a="$a99" 'BEGIN { print (a <= 1) }')"
	check "throughput ratio $ratio >= 0.85 (CPU-bound: gateway, engine and wrk share the cores)" "$(awk -v r="$ratio" 'BEGIN { print (r >= 0.85) }')"
done

if [ "$ITL" != 0 ]; then
	# The engine as the bottleneck: a simulated engine taking ~16 x ITL per request.
	eport2=$(freeport); gport2=$(freeport)
	start_engine "$eport2" "$ITL" "$tmp/engine2.log"
	start_gateway "$gport2" "$eport2" "$tmp/gateway2.log"
	echo
	echo "engine-bound (--itl $ITL, 16 tokens per request):"
	for stream in 0 1; do
		label=non-streamed; [ "$stream" = 1 ] && label=streamed
		run "$stream" 8 1 1s "http://127.0.0.1:$gport2/v1/completions" >/dev/null
		d_tp=$(run "$stream" "$CONNS" "$THREADS" "$DURATION" "http://127.0.0.1:$eport2/v1/completions")
		g_tp=$(run "$stream" "$CONNS" "$THREADS" "$DURATION" "http://127.0.0.1:$gport2/v1/completions")
		drps=$(rps "$d_tp"); grps=$(rps "$g_tp")
		ratio=$(awk -v a="$grps" -v b="$drps" 'BEGIN { printf "%.3f", a / b }')
		printf '  %-13s direct %s req/s p50 %s ms | gateway %s req/s p50 %s ms | ratio %s\n' "$label" \
			"$drps" "$(ms "$(pct 50 "$d_tp")")" "$grps" "$(ms "$(pct 50 "$g_tp")")" "$ratio"
		check "engine-bound $label throughput ratio $ratio >= 0.85" "$(awk -v r="$ratio" 'BEGIN { print (r >= 0.85) }')"
	done
fi

if [ "$fail" = 1 ] && [ "$STRICT" = 1 ]; then
	exit 1
fi
