#!/usr/bin/env bash
# bench-load: is `llmmon load` fast enough to never be the bottleneck?
#
# Starts `llmmon serve` with no simulated delay, then in one run loads it with
# wrk (../shared/bench/post.lua) and with `llmmon load` at the same
# concurrency on the same request (--prompt: serve caches the tokens of a
# repeated prompt, so random prompts would cost it more), and prints both
# throughputs and their ratio. Fails when llmmon load reaches less than
# MIN_RATIO (0.8) of wrk's requests/s.
# The two alternate ROUNDS times and each keeps its best round, so a burst
# of other work on this shared machine does not decide the comparison. The
# CPU each spends per request (user+sys, over all rounds) is printed too: it
# is the steadier measure of the client's own cost.
#
#   bash hack/bench-load.sh                 # non-streamed and streamed
#   DURATION=10s CONNS=64 bash hack/bench-load.sh
set -euo pipefail
cd "$(dirname "$0")/.."

CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
MIN_RATIO=${MIN_RATIO:-0.8}
ROUNDS=${ROUNDS:-3}
DURATION=${DURATION:-5s}

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }

. hack/lib.sh
post_lua

go build -o "$tmp/llmmon" ./cmd/llmmon
port=$(free_port)
base=http://127.0.0.1:$port
# post.lua asks for model "demo"; serve it so every answer is a 200.
"$tmp/llmmon" serve --host 127.0.0.1 --port "$port" --model demo \
	--ttft 0 --itl 0 --prefill-overhead 0 --prefill-per-token 0 --jitter 0 \
	--max-num-seqs 256 >"$tmp/serve.log" 2>&1 &
pids+=($!)
wait_up "$base" "$tmp/serve.log" "llmmon serve"

echo "best of $ROUNDS alternating rounds of $DURATION, $CONNS connections, against llmmon serve with no simulated delay"
fail=0
for stream in 0 1; do
	label=non-streamed; flag=--stream=false
	[ "$stream" = 1 ] && { label=streamed; flag=--stream=true; }
	# Warm both up briefly so neither pays for first connections.
	STREAM=$stream wrk -t"$THREADS" -c"$CONNS" -d1s -s "$lua" "$base/v1/completions" >/dev/null
	wrk_rps=0; load_rps=0; load_err=0
	wrk_cpu=0; wrk_n=0; load_cpu=0; load_n=0
	TIMEFORMAT='%U %S'
	for _ in $(seq "$ROUNDS"); do
		{ time STREAM=$stream wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$lua" "$base/v1/completions" >"$tmp/wrk.out" ; } 2>"$tmp/wrk.time"
		if grep -q "Non-2xx" "$tmp/wrk.out"; then
			echo "wrk got non-2xx answers; the comparison is void:" >&2; cat "$tmp/wrk.out" >&2; exit 1
		fi
		rps=$(awk '/^Requests\/sec:/ {print $2}' "$tmp/wrk.out")
		n=$(awk '/requests in/ {print $1}' "$tmp/wrk.out")
		read -r u sy <"$tmp/wrk.time"
		read -r wrk_rps wrk_cpu wrk_n < <(python3 -c "print(max($wrk_rps, $rps), $wrk_cpu + $u + $sy, $wrk_n + $n)")

		{ time "$tmp/llmmon" load --url "$base/v1" --endpoint completions $flag --max-tokens 16 --prompt "Say something about monitoring." \
			--concurrency "$CONNS" --duration "$DURATION" -o json >"$tmp/load.json" 2>/dev/null ; } 2>"$tmp/load.time"
		read -r rps failed n < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(r["requests_per_second"], r["requests"]["failed"], r["requests"]["sent"])' "$tmp/load.json")
		read -r u sy <"$tmp/load.time"
		read -r load_rps load_cpu load_n < <(python3 -c "print(max($load_rps, $rps), $load_cpu + $u + $sy, $load_n + $n)")
		load_err=$((load_err + failed))
	done
	ratio=$(python3 -c "print(f'{$load_rps / $wrk_rps:.2f}')")
	printf '%-13s wrk %6.0f req/s %5.1f µs CPU/req   llmmon load %6.0f req/s %5.1f µs CPU/req (%s failed)   ratio %s\n' \
		"$label" "$wrk_rps" "$(python3 -c "print($wrk_cpu / $wrk_n * 1e6)")" "$load_rps" "$(python3 -c "print($load_cpu / $load_n * 1e6)")" "$load_err" "$ratio"
	if python3 -c "import sys; sys.exit(0 if $ratio >= $MIN_RATIO and $load_err == 0 else 1)"; then :; else
		echo "FAILED: llmmon load $label reached $ratio of wrk's throughput (want >= $MIN_RATIO, no errors)" >&2
		fail=1
	fi
done
exit $fail
