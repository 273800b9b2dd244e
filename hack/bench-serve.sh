#!/usr/bin/env bash
# bench-serve: llmmon serve against the floor and the seed, in one run.
#
# Starts `llmmon serve` with no simulated delay, the floor (hack/floor: a
# bare net/http server answering the bytes serve answers, captured here
# from serve, with no JSON decoding, engine or metrics: the most a Go
# server can do on this machine) and the seed's FastAPI server
# (../shared/bench/seed_server.py, for the record). Loads each with wrk and
# the same request (../shared/bench/post.lua: 16 tokens), non-streamed and
# streamed, alternating ROUNDS times, each side keeping its best round so a
# burst of other work on a shared machine does not decide the comparison,
# and prints requests/s, CPU per request (µs, user + system over requests
# answered, over all rounds) and the ratios (goal: serve >= MIN_FLOOR,
# 0.85, of the floor; serve/seed is printed without a goal). Then the
# instrumentation's CPU per request (BenchmarkInstrumentationPerRequest)
# as a share of serve's (goal: at most MAX_INSTR, 5%).
# Then it holds STREAMS (1000) concurrent streams against llmmon serve and
# prints its peak RSS (goal: under 50 MB); see memory() below; and the
# same streams against the floor (--itl: one event every 20 ms), whose
# peak RSS is what net/http and a Go binary alone take. Then
# BIG_STREAMS (5000), reported without a goal, with serve's CPU per
# finished request: the GC default must not collect back to back there.
# A missed goal is printed; STRICT=1 also makes it the exit status.
#
#   bash hack/bench-serve.sh
#   DURATION=10s CONNS=64 ROUNDS=3 bash hack/bench-serve.sh
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"

DURATION=${DURATION:-8s}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
MIN_FLOOR=${MIN_FLOOR:-0.85}
MAX_INSTR=${MAX_INSTR:-5} # percent of serve's CPU per request
STREAMS=${STREAMS:-1000}
BIG_STREAMS=${BIG_STREAMS:-5000}
STRICT=${STRICT:-0}
ONLY=${ONLY:-} # throughput or memory: that part alone
MAX_RSS_MB=${MAX_RSS_MB:-50}
BENCH=${BENCH:-$(git rev-parse --show-toplevel)/../shared/bench}

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
[ -f "$BENCH/seed_server.py" ] && [ -f "$BENCH/post.lua" ] || {
	echo "seed peer not found in $BENCH (seed_server.py, post.lua); set BENCH=DIR" >&2; exit 1; }
/usr/bin/python3 -c 'import fastapi, uvicorn, prometheus_client' 2>/dev/null || {
	echo "the seed server needs: apt-get install -y python3-fastapi python3-uvicorn python3-prometheus-client" >&2; exit 1; }

. hack/lib.sh

# The binary `make build` ships (no symbol tables, no DWARF): its mapped
# pages are part of the RSS measured below.
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/llmmon" ./cmd/llmmon

seed_port=$(free_port)
/usr/bin/python3 "$BENCH/seed_server.py" --port "$seed_port" --ttft-ms 0 --itl-ms 0 >"$tmp/seed.log" 2>&1 &
seed_pid=$!
pids+=($seed_pid)
seed=http://127.0.0.1:$seed_port
wait_up "$seed" "$tmp/seed.log"

llm_port=$(free_port)
# post.lua asks for model "demo"; serve that name so every answer is a 200.
"$tmp/llmmon" serve --host 127.0.0.1 --port "$llm_port" --model demo \
	--ttft 0 --itl 0 --prefill-overhead 0 --prefill-per-token 0 --jitter 0 >"$tmp/serve.log" 2>&1 &
serve_pid=$!
pids+=($serve_pid)
serve=http://127.0.0.1:$llm_port
wait_up "$serve" "$tmp/serve.log"

# The floor answers exactly what serve answers to post.lua's request.
for stream in false true; do
	curl -sf -o "$tmp/answer-$stream" -H 'Content-Type: application/json' \
		-d '{"model":"demo","prompt":"Say something about monitoring.","max_tokens":16,"stream":'"$stream"'}' "$serve/v1/completions"
done
CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/floor" ./hack/floor
floor_port=$(free_port)
"$tmp/floor" --addr "127.0.0.1:$floor_port" --body "$tmp/answer-false" --stream "$tmp/answer-true" >"$tmp/floor.log" 2>&1 &
floor_pid=$!
pids+=($floor_pid)
floor=http://127.0.0.1:$floor_port
wait_up "$floor" "$tmp/floor.log"

# cpu PID → user + system CPU time so far, in clock ticks (a process and
# its children: uvicorn may fork).
cpu() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)
# load URL STREAM → "requests/s requests" (0 0 when any answer was not a 2xx).
load() {
	local out
	out=$(STREAM=$2 wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" -s "$BENCH/post.lua" "$1/v1/completions")
	if grep -q "Non-2xx\|Socket errors" <<<"$out"; then echo "errors from $1:" >&2; echo "$out" >&2; echo 0 0; return; fi
	awk '/^Requests\/sec:/ {r = $2} /requests in/ {n = $1} END {print r, n}' <<<"$out"
}
us_per() { awk -v c="$1" -v n="$2" -v t="$tick" 'BEGIN { if (n > 0) printf "%.1f", c / t / n * 1e6; else printf "-" }'; }

fail=0
declare -A serve_us=()
if [ "$ONLY" != memory ]; then
echo "wrk -t$THREADS -c$CONNS -d$DURATION, post.lua (16 tokens), no simulated delay, best of $ROUNDS alternating rounds; $(nproc) cores shared with wrk"
for stream in 0 1; do
	label=non-streamed
	[ "$stream" = 1 ] && label=streamed
	declare -A top=() reqs=() ticks=()
	for side in seed floor serve; do
		STREAM=$stream wrk -t1 -c4 -d1s -s "$BENCH/post.lua" "${!side}/v1/completions" >/dev/null
		top[$side]=0 reqs[$side]=0 ticks[$side]=0
	done
	for _ in $(seq "$ROUNDS"); do
		for side in seed floor serve; do
			pid_var=${side}_pid
			c0=$(cpu "${!pid_var}")
			read -r r n < <(load "${!side}" "$stream")
			c1=$(cpu "${!pid_var}")
			top[$side]=$(best "${top[$side]}" "$r")
			reqs[$side]=$((reqs[$side] + n)) ticks[$side]=$((ticks[$side] + c1 - c0))
		done
	done
	of_floor=$(awk -v l="${top[serve]}" -v f="${top[floor]}" 'BEGIN { printf "%.2f", (f > 0 ? l / f : 0) }')
	of_seed=$(awk -v l="${top[serve]}" -v s="${top[seed]}" 'BEGIN { printf "%.1f", (s > 0 ? l / s : 0) }')
	verdict=ok
	awk -v r="$of_floor" -v m="$MIN_FLOOR" 'BEGIN { exit !(r >= m) }' || { verdict=BELOW; fail=1; }
	printf '%-13s floor %7.0f req/s %6s µs/req | serve %7.0f req/s %6s µs/req | seed %6.0f req/s %6s µs/req\n' "$label" \
		"${top[floor]}" "$(us_per "${ticks[floor]}" "${reqs[floor]}")" "${top[serve]}" "$(us_per "${ticks[serve]}" "${reqs[serve]}")" \
		"${top[seed]}" "$(us_per "${ticks[seed]}" "${reqs[seed]}")"
	printf '  serve/floor %s >= %s  %s    (serve/seed %sx, for the record)\n' "$of_floor" "$MIN_FLOOR" "$verdict" "$of_seed"
	serve_us[$stream]=$(us_per "${ticks[serve]}" "${reqs[serve]}")
done

# Instrumentation: BenchmarkInstrumentationPerRequest is all of one
# request's metrics, request id and access log line, as the handler does
# them, on every core at once (so with the contention on shared counters);
# its CPU per request over serve's own, measured above, is its share. The
# streamed request above comes in one write, so "stream" counts its tokens
# once; "stream-16", each token flushed alone, is printed for the record.
bench=$(go test -run '^$' -bench 'BenchmarkInstrumentationPerRequest/(nonstream|stream|stream-16)$' -count 3 ./stack/llmserver)
median_us() { # the median cpu-ns/op of one sub-benchmark, in µs
	awk -v n="BenchmarkInstrumentationPerRequest/$1" '$1 ~ "^"n"(-[0-9]+)?$" { for (i = 2; i < NF; i++) if ($(i+1) == "cpu-ns/op") print $i }' <<<"$bench" |
		sort -g | awk '{ v[NR] = $1 } END { print (NR ? v[int((NR + 1) / 2)] / 1000 : 0) }'
}
for stream in 0 1; do
	name=nonstream label=non-streamed
	[ "$stream" = 1 ] && name=stream label=streamed
	inst=$(median_us "$name")
	share=$(awk -v i="$inst" -v s="${serve_us[$stream]}" 'BEGIN { printf "%.1f", (s > 0 ? 100 * i / s : 100) }')
	verdict=ok
	awk -v s="$share" -v m="$MAX_INSTR" 'BEGIN { exit !(s <= m) }' || { verdict=OVER; fail=1; }
	printf 'instrumentation, %-13s %4.1f µs of serve'"'"'s %s µs per request: %s%% <= %s%%  %s\n' "$label" "$inst" "${serve_us[$stream]}" "$share" "$MAX_INSTR" "$verdict"
done
printf 'instrumentation, streamed with each of 16 tokens flushed alone: %.1f µs (for the record: such a request also makes 16 writes)\n' "$(median_us stream-16)"
fi

# Memory, with STREAMS concurrent streams, in two ways; each run is a fresh
# serve, and its peak RSS (VmHWM, binary pages included) is what counts:
#   held:    every connection opens one long stream (500 tokens at 20 ms,
#            longer than the run) and keeps it open: STREAMS streams at once,
#            the goal's case (under 50 MB, decimal);
#   churned: every connection runs 40-token streams back to back; all start
#            and end together, so STREAMS requests arrive in bursts on top
#            of the open streams (printed for information).
kill "$serve_pid"; wait "$serve_pid" 2>/dev/null || true
ulimit -n 8192 2>/dev/null || true
memory() { # label max_tokens check(0/1) [streams [floor]]
	local rss_port rss_pid wrk_pid peak_running=0 r hwm_kb rss_mb rss_mib verdict file_mb used_mb
	local streams=${4:-$STREAMS} who=${5:-serve} ticks done_reqs cpu_us bin=$tmp/llmmon
	rss_port=$(free_port)
	if [ "$who" = floor ]; then
		bin=$tmp/floor
		"$bin" --addr "127.0.0.1:$rss_port" --body "$tmp/answer-false" --stream "$tmp/answer-true" \
			--itl 20ms --tokens "$2" >"$tmp/rss.log" 2>&1 &
	else
		"$bin" serve --host 127.0.0.1 --port "$rss_port" --model demo --itl 20ms --jitter 0 --batch-slowdown 0 \
			--max-num-seqs "$streams" --max-queue "$streams" --kv-blocks 100000 \
			--max-connections $((streams + 64)) >"$tmp/rss.log" 2>&1 &
	fi
	rss_pid=$!
	pids+=($rss_pid)
	wait_up "http://127.0.0.1:$rss_port" "$tmp/rss.log"
	# From here the kernel notes which pages serve touches: the binary's
	# pages that only startup (package init, the command tree) touched stay
	# resident, and counted in RSS, until memory runs short.
	echo 1 >"/proc/$rss_pid/clear_refs" 2>/dev/null || true
	cat >"$tmp/long.lua" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"model":"demo","prompt":"Say something about monitoring.","max_tokens":$2,"stream":true}'
LUA
	wrk -t2 -c"$streams" -d8s --timeout 12s -s "$tmp/long.lua" "http://127.0.0.1:$rss_port/v1/completions" >"$tmp/rss-wrk.txt" &
	wrk_pid=$!
	while kill -0 "$wrk_pid" 2>/dev/null; do
		if [ "$who" = floor ]; then # no metrics: its open connections
			r=$(ss -Htn state established "( sport = :$rss_port )" | wc -l)
		else
			r=$(curl -s -m 2 "http://127.0.0.1:$rss_port/metrics" | awk '/^llm_active_requests\{endpoint="stream"\}/ {print $2}')
		fi
		peak_running=$(best "$peak_running" "${r:-0}")
		sleep 0.5
	done
	wait "$wrk_pid" || true
	hwm_kb=$(awk '/^VmHWM:/ {print $2}' "/proc/$rss_pid/status")
	rss_mb=$(awk -v k="$hwm_kb" 'BEGIN { printf "%.1f", k * 1024 / 1e6 }')
	rss_mib=$(awk -v k="$hwm_kb" 'BEGIN { printf "%.1f", k / 1024 }')
	file_mb=$(awk '/^RssFile:/ {printf "%.1f", $2 / 1024}' "/proc/$rss_pid/status")
	used_mb=$(awk -v bin="$bin" '/^[0-9a-f]+-/ {name = $6} /^Referenced:/ && name == bin {k += $2} END {printf "%.1f", k / 1024}' "/proc/$rss_pid/smaps")
	verdict=""
	if [ "$3" = 1 ]; then
		verdict=ok
		awk -v r="$rss_mb" -v m="$MAX_RSS_MB" 'BEGIN { exit !(r < m) }' || { verdict="OVER ${MAX_RSS_MB} MB"; fail=1; }
		awk -v p="$peak_running" -v s="$streams" 'BEGIN { exit !(p >= s) }' || { verdict="$verdict, but only $peak_running streams were open"; fail=1; }
	fi
	# CPU per finished request (user + system time of serve over wrk's
	# count); held streams outlast the run, so only churned ones finish.
	ticks=$(awk '{print $14 + $15}' "/proc/$rss_pid/stat")
	done_reqs=$(awk '/requests in/ {print $1}' "$tmp/rss-wrk.txt")
	cpu_us=$(awk -v t="$ticks" -v n="${done_reqs:-0}" -v hz="$(getconf CLK_TCK)" 'BEGIN { if (n > 0) printf "%.0f µs/request", t / hz * 1e6 / n; else printf "-" }')
	printf 'memory %-8s %5d streams, %-5s peak RSS %s MB (%s MiB; binary pages %s MiB, %s MiB of them touched while serving), up to %.0f open at once, CPU %s  %s\n' \
		"$1" "$streams" "$who:" "$rss_mb" "$rss_mib" "$file_mb" "$used_mb" "$peak_running" "$cpu_us" "$verdict"
	kill "$rss_pid"; wait "$rss_pid" 2>/dev/null || true
}
if [ "$ONLY" != throughput ]; then
	memory held 500 1
	memory held 500 0 "$STREAMS" floor # the same streams on bare net/http
	memory churned 40 0
	# Reported, no goal: the GC default must stay sane with much more live data.
	memory held 500 0 "$BIG_STREAMS"
	memory churned 40 0 "$BIG_STREAMS"
fi
if [ "$fail" = 1 ]; then
	echo "a goal was missed (noisy machine? try ROUNDS=3)" >&2
	[ "$STRICT" = 1 ] && exit 1
fi
exit 0
