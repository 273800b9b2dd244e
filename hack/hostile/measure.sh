#!/usr/bin/env bash
# Plays every attack of issue 12 against an llmmon binary and prints what
# each cost the process under attack: time to answer, descriptors, peak
# RSS. Run it on two binaries (say main's and a branch's) to compare:
#
#   go build -o /tmp/llmmon-a ./cmd/llmmon   # on each checkout
#   flock /tmp/llmmon-heavy.lock bash hack/hostile/measure.sh /tmp/llmmon-a
#
# Ports 18301-18320 must be free. Takes about 3 minutes on a fixed binary,
# longer on one that waits for bodies that never come (capped by -wait).
set -u
BIN=${1:?usage: measure.sh LLMMON_BINARY}
WAIT=${WAIT:-60s}
H=$(mktemp -d)/hostile
trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$(dirname "$H")"' EXIT
(cd "$(dirname "$0")" && go build -o "$H" .) || exit 1
port=18300
next() { port=$((port + 1)); }

serve() { # serve ARGS...: starts llmmon serve on $port, sets pid
	"$BIN" serve --port "$port" --host 127.0.0.1 "$@" >/dev/null 2>&1 &
	pid=$!
	for _ in $(seq 50); do curl -s -o /dev/null "localhost:$port/health" && return; sleep 0.1; done
}
stop() { kill "$pid"; wait "$pid" 2>/dev/null; }

echo "## 1. bodies that never come: 1000 connections each"
next; serve --itl 0 --prefill-overhead 0 --prefill-per-token 0 --api-key k
for what in "authorised:-key k" "401, no key:" "404, unknown path:-path /nope"; do
	echo "== ${what%%:*}"
	# shellcheck disable=SC2086
	"$H" slowbody -url "http://127.0.0.1:$port" -conns 1000 -wait "$WAIT" -pid "$pid" ${what#*:}
done
echo "peak RSS $(grep VmHWM /proc/$pid/status | tr -s ' \t' ' ')"
stop

echo "## 2. max_tokens = MaxInt64, then a normal request"
next; serve --itl 0 --prefill-overhead 0 --prefill-per-token 0
for body in '{"prompt":"hi","max_tokens":9223372036854775807}' '{"prompt":"hi","max_tokens":9223372036854775806}'; do
	curl -s -m 10 -o /dev/null -w "completions $body -> HTTP %{http_code} in %{time_total}s\n" \
		"localhost:$port/v1/completions" -H 'Content-Type: application/json' -d "$body"
done
curl -s -m 10 -o /dev/null -w 'chat max_completion_tokens=MaxInt64 -> HTTP %{http_code} in %{time_total}s\n' \
	"localhost:$port/v1/chat/completions" -H 'Content-Type: application/json' \
	-d '{"messages":[{"role":"user","content":"hi"}],"max_completion_tokens":9223372036854775807}'
curl -s -m 10 -o /dev/null -w 'a normal request after them -> HTTP %{http_code} in %{time_total}s\n' \
	"localhost:$port/v1/completions" -H 'Content-Type: application/json' -d '{"prompt":"hi","max_tokens":5}'
stop

echo "## 3, 4. hostile upstreams behind the gateway (a fresh gateway each)"
for attack in "hugeline -size $((400 << 20))" "datalines -lines 240000" "datalines -lines 50000000 -cancel 1s" \
	"headers -size $((100 << 20))" "body -size $((100 << 20))" "endless -cancel 1s"; do
	next; up=$port; next; serve --upstream "http://127.0.0.1:$up/v1"
	echo "== $attack"
	# shellcheck disable=SC2086
	"$H" upstream -kind $attack -listen "127.0.0.1:$up" -gateway "http://127.0.0.1:$port" -pid "$pid"
	stop
done

echo "## 9. load against hostile engines"
next
L="$BIN load --url http://127.0.0.1:$port/v1 --progress-every 1h"
"$H" upstream -kind endless -listen "127.0.0.1:$port" >/dev/null & h=$!
sleep 0.5
$L -n 10 >/dev/null 2>&1 & l=$!
sleep 2; kill -INT $l; wait $l; echo "Ctrl-C after 2 s with nothing finished: exit status $?"
s=$(date +%s%N); timeout 60 $L -d 3s >/dev/null 2>&1; rc=$?
echo "-d 3s against an endless stream: exit status $rc after $((($(date +%s%N) - s) / 1000000)) ms (timeout(1) stops it at 60 s)"
kill $h; wait $h 2>/dev/null
"$H" upstream -kind malformed -listen "127.0.0.1:$port" >/dev/null & h=$!
sleep 0.5
echo "malformed SSE chunk: $($L -n 5 2>&1 | grep -E '^requests')"
kill $h; wait $h 2>/dev/null
"$H" upstream -kind hugeline -size $((400 << 20)) -listen "127.0.0.1:$port" >/dev/null & h=$!
sleep 0.5
/usr/bin/time -f "400 MB SSE line: %e s, load's peak RSS %M kB" $L -n 1 2>&1 | grep -E '^requests|peak RSS'
kill $h; wait $h 2>/dev/null
echo "--rate 1e9: $($L --rate 1e9 -n 5 2>&1)"
