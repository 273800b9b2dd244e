#!/usr/bin/env bash
# bench-gateway: `llmmon serve --upstream` against nginx, the best existing
# tool for the same job, in one run.
#
# Starts a zero-work engine (`llmmon serve`, model "demo", no simulated
# delay), Debian's nginx as a plain reverse proxy in front of it (one
# worker, upstream keepalive, proxy_buffering off, proxy_http_version 1.1,
# an access log buffered as serve's is; it parses no SSE and keeps no
# metrics), and the gateway in front of the same engine. Then, with the
# same wrk request (../shared/bench/post.lua, 16 tokens), non-streamed and
# streamed:
#
#   - latency: one connection (-c1), p50 and p99 from wrk --latency, the
#     median over ROUNDS alternating rounds; added = proxy minus direct
#     (goal: the gateway's added p99 <= nginx's added p99 + 0.2 ms);
#   - throughput: CONNS connections, best of ROUNDS alternating rounds
#     (goal: gateway req/s >= nginx req/s, while it parses every event and
#     keeps every metric);
#   - CPU per request (µs, user + system over requests answered) of the
#     engine, nginx and the gateway: on shared cores that is what the
#     throughput ratios measure.
#
# For the record, the same throughput through Go's standard reverse proxy
# (hack/floor --upstream: net/http/httputil, no parsing, no metrics): what
# a Go gateway costs before it does anything of its own.
#
# ITL=1ms repeats the throughput run with an engine that takes ~16 ms per
# request, where the engine, not the proxy, is the bottleneck (goal: the
# gateway >= 0.85 of direct).
#
#   bash hack/bench-gateway.sh
#   ROUNDS=5 DURATION=10s bash hack/bench-gateway.sh
#   STRICT=1 bash hack/bench-gateway.sh     # exit 1 when a goal is missed
set -euo pipefail
cd "$(dirname "$0")/.."

DURATION=${DURATION:-5s}
LAT_DURATION=${LAT_DURATION:-3s}
ROUNDS=${ROUNDS:-3}
CONNS=${CONNS:-32}
THREADS=${THREADS:-2}
ITL=${ITL:-1ms}
STRICT=${STRICT:-0}
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}

command -v wrk >/dev/null || { echo "wrk not found: apt-get install -y wrk" >&2; exit 1; }
[ -x "$NGINX" ] || { echo "nginx not found (the peer): apt-get install -y nginx-light, or set NGINX=PATH" >&2; exit 1; }

. hack/lib.sh
post_lua

CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$tmp/llmmon" ./cmd/llmmon
start_engine() { # port itl log
	"$tmp/llmmon" serve --host 127.0.0.1 --port "$1" --model demo \
		--ttft 0 --itl "$2" --prefill-overhead 0 --prefill-per-token 0 --jitter 0 \
		--max-num-seqs 256 >"$3" 2>&1 &
	pids+=($!)
	wait_up "http://127.0.0.1:$1" "$3" "llmmon serve"
}
start_gateway() { # port upstream-port log
	"$tmp/llmmon" serve --host 127.0.0.1 --port "$1" --upstream "http://127.0.0.1:$2/v1" >"$3" 2>&1 &
	pids+=($!)
	wait_up "http://127.0.0.1:$1" "$3" "llmmon serve --upstream"
}
start_nginx() { # port upstream-port
	mkdir -p "$tmp/nginx"
	cat >"$tmp/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $tmp/nginx/nginx.pid;
error_log $tmp/nginx/error.log warn;
events { worker_connections 4096; }
http {
	# Every request logged, buffered like serve's access log (100 ms).
	access_log $tmp/nginx/access.log combined buffer=64k flush=100ms;
	client_body_temp_path $tmp/nginx/body;
	proxy_temp_path $tmp/nginx/proxy;
	upstream engine {
		server 127.0.0.1:$2;
		keepalive 64;
	}
	server {
		listen 127.0.0.1:$1;
		location / {
			proxy_pass http://engine;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
			proxy_buffering off;
		}
	}
}
CONF
	"$NGINX" -p "$tmp/nginx" -c "$tmp/nginx/nginx.conf" -e "$tmp/nginx/error.log" >"$tmp/nginx/out.log" 2>&1 &
	pids+=($!)
	wait_up "http://127.0.0.1:$1" "$tmp/nginx/error.log" "nginx"
}

eport=$(free_port); gport=$(free_port); nport=$(free_port); fport=$(free_port)
start_engine "$eport" 0 "$tmp/engine.log"
engine_pid=${pids[-1]}
start_gateway "$gport" "$eport" "$tmp/gateway.log"
gateway_pid=${pids[-1]}
start_nginx "$nport" "$eport"
# nginx -g 'daemon off' with one worker: the master forks the worker.
nginx_pid=$(pgrep -P "${pids[-1]}" | head -1)
go build -o "$tmp/floor" ./hack/floor
"$tmp/floor" --addr "127.0.0.1:$fport" --upstream "http://127.0.0.1:$eport" >"$tmp/goproxy.log" 2>&1 &
pids+=($!)
goproxy_pid=$!
wait_up "http://127.0.0.1:$fport" "$tmp/goproxy.log" "the Go reverse proxy"
# cpu PID → the process's user+system CPU time so far, in clock ticks.
cpu() { awk '{print $14 + $15}' "/proc/$1/stat"; }
tick=$(getconf CLK_TCK)
direct=http://127.0.0.1:$eport/v1/completions
gateway=http://127.0.0.1:$gport/v1/completions
nginx=http://127.0.0.1:$nport/v1/completions
goproxy=http://127.0.0.1:$fport/v1/completions

# ms converts wrk's "123.45us" / "1.20ms" / "1.01s" to milliseconds.
ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n *= 1; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }
pct() { awk -v p="$1%" '$1 == p { print $2 }' <<<"$2"; }
rps() { awk '/^Requests\/sec:/ {print $2}' <<<"$1"; }
reqs() { awk '/requests in/ {print $1}' <<<"$1"; }
median() { printf '%s\n' "$@" | sort -g | sed -n "$(( ($# + 1) / 2 ))p"; }
errs() { awk '/Non-2xx|Socket errors/ {print}' <<<"$1"; }
us_per() { awk -v c="$1" -v n="$2" -v t="$tick" 'BEGIN { printf "%.1f", (n > 0 ? c / t / n * 1e6 : 0) }'; }

fail=0
verdict() { # label ok(0/1) [word for a miss: BELOW, or OVER for a cap]
	if [ "$2" = 1 ]; then printf '  %-72s ok\n' "$1"; else printf '  %-72s %s\n' "$1" "${3:-BELOW}"; fail=1; fi
}
run() { # stream conns threads duration url
	local out
	out=$(STREAM=$1 wrk -t"$3" -c"$2" -d"$4" --latency -s "$lua" "$5")
	e=$(errs "$out"); [ -n "$e" ] && { echo "  wrk reported errors from $5: $e" >&2; touch "$tmp/wrk-errors"; }
	printf '%s\n' "$out"
}

echo "bench-gateway: wrk → {llmmon serve | nginx → llmmon serve | llmmon serve --upstream → llmmon serve}, 16 tokens, no simulated delay"
echo "$(nproc) cores shared by wrk, the engine and the proxy; wrk -t$THREADS -c$CONNS -d$DURATION, best of $ROUNDS rounds; latency -c1, median of $ROUNDS"
for stream in 0 1; do
	label=non-streamed; [ "$stream" = 1 ] && label=streamed
	for u in "$direct" "$nginx" "$goproxy" "$gateway"; do run "$stream" 8 1 1s "$u" >/dev/null; done

	d50s=(); d99s=(); n50s=(); n99s=(); g50s=(); g99s=()
	for _ in $(seq "$ROUNDS"); do
		out=$(run "$stream" 1 1 "$LAT_DURATION" "$direct"); d50s+=("$(ms "$(pct 50 "$out")")"); d99s+=("$(ms "$(pct 99 "$out")")")
		out=$(run "$stream" 1 1 "$LAT_DURATION" "$nginx"); n50s+=("$(ms "$(pct 50 "$out")")"); n99s+=("$(ms "$(pct 99 "$out")")")
		out=$(run "$stream" 1 1 "$LAT_DURATION" "$gateway"); g50s+=("$(ms "$(pct 50 "$out")")"); g99s+=("$(ms "$(pct 99 "$out")")")
	done
	d50=$(median "${d50s[@]}"); d99=$(median "${d99s[@]}")
	n50=$(median "${n50s[@]}"); n99=$(median "${n99s[@]}")
	g50=$(median "${g50s[@]}"); g99=$(median "${g99s[@]}")
	na99=$(awk -v a="$n99" -v b="$d99" 'BEGIN { printf "%.3f", a - b }')
	ga99=$(awk -v a="$g99" -v b="$d99" 'BEGIN { printf "%.3f", a - b }')
	na50=$(awk -v a="$n50" -v b="$d50" 'BEGIN { printf "%.3f", a - b }')
	ga50=$(awk -v a="$g50" -v b="$d50" 'BEGIN { printf "%.3f", a - b }')

	# Throughput, alternating; CPU per request over all rounds of a side.
	d_best=0 n_best=0 g_best=0
	d_cpu=0 n_cpu=0 g_cpu=0 ge_cpu=0 ne_cpu=0 d_n=0 n_n=0 g_n=0 f_best=0 f_cpu=0 f_n=0
	for _ in $(seq "$ROUNDS"); do
		e0=$(cpu "$engine_pid")
		out=$(run "$stream" "$CONNS" "$THREADS" "$DURATION" "$direct")
		e1=$(cpu "$engine_pid"); x1=$(cpu "$nginx_pid")
		d_best=$(best "$d_best" "$(rps "$out")"); d_n=$((d_n + $(reqs "$out"))); d_cpu=$((d_cpu + e1 - e0))
		out=$(run "$stream" "$CONNS" "$THREADS" "$DURATION" "$nginx")
		e2=$(cpu "$engine_pid"); x2=$(cpu "$nginx_pid"); y2=$(cpu "$gateway_pid")
		n_best=$(best "$n_best" "$(rps "$out")"); n_n=$((n_n + $(reqs "$out"))); n_cpu=$((n_cpu + x2 - x1)); ne_cpu=$((ne_cpu + e2 - e1))
		f0=$(cpu "$goproxy_pid")
		out=$(run "$stream" "$CONNS" "$THREADS" "$DURATION" "$goproxy")
		f1=$(cpu "$goproxy_pid")
		f_best=$(best "$f_best" "$(rps "$out")"); f_n=$((f_n + $(reqs "$out"))); f_cpu=$((f_cpu + f1 - f0))
		e2=$(cpu "$engine_pid"); y2=$(cpu "$gateway_pid")
		out=$(run "$stream" "$CONNS" "$THREADS" "$DURATION" "$gateway")
		e3=$(cpu "$engine_pid"); y3=$(cpu "$gateway_pid")
		g_best=$(best "$g_best" "$(rps "$out")"); g_n=$((g_n + $(reqs "$out"))); g_cpu=$((g_cpu + y3 - y2)); ge_cpu=$((ge_cpu + e3 - e2))
	done
	ratio=$(awk -v a="$g_best" -v b="$n_best" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')

	echo
	echo "$label:"
	printf '  throughput, %s conns:  direct %8.0f req/s | nginx %8.0f req/s (%.2f of direct) | gateway %8.0f req/s (%.2f of direct)\n' "$CONNS" \
		"$d_best" "$n_best" "$(awk -v a="$n_best" -v b="$d_best" 'BEGIN { print a / b }')" "$g_best" "$(awk -v a="$g_best" -v b="$d_best" 'BEGIN { print a / b }')"
	printf '  CPU per request:       engine %s µs (direct) | nginx %s µs + engine %s µs | gateway %s µs + engine %s µs\n' \
		"$(us_per "$d_cpu" "$d_n")" "$(us_per "$n_cpu" "$n_n")" "$(us_per "$ne_cpu" "$n_n")" "$(us_per "$g_cpu" "$g_n")" "$(us_per "$ge_cpu" "$g_n")"
	printf '  for the record:        Go httputil.ReverseProxy %8.0f req/s (%.2f of nginx), %s µs per request\n' \
		"$f_best" "$(awk -v a="$f_best" -v b="$n_best" 'BEGIN { print a / b }')" "$(us_per "$f_cpu" "$f_n")"
	printf '  latency, 1 conn:       direct p50 %s p99 %s ms | nginx p50 %s p99 %s ms | gateway p50 %s p99 %s ms\n' "$d50" "$d99" "$n50" "$n99" "$g50" "$g99"
	printf '    rounds p99:          direct %s | nginx %s | gateway %s\n' "${d99s[*]}" "${n99s[*]}" "${g99s[*]}"
	printf '  added over direct:     nginx p50 %s p99 %s ms | gateway p50 %s p99 %s ms\n' "$na50" "$na99" "$ga50" "$ga99"
	verdict "gateway/nginx throughput $ratio >= 1.00" "$(awk -v r="$ratio" 'BEGIN { print (r >= 1.0) }')"
	verdict "gateway added p99 $ga99 ms <= nginx added p99 $na99 ms + 0.2 ms" "$(awk -v g="$ga99" -v n="$na99" 'BEGIN { print (g <= n + 0.2) }')" OVER
done

if [ "$ITL" != 0 ]; then
	# The engine as the bottleneck: a simulated engine taking ~16 x ITL per request.
	eport2=$(free_port); gport2=$(free_port)
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
		ratio=$(awk -v a="$grps" -v b="$drps" 'BEGIN { printf "%.2f", a / b }')
		printf '  %-13s direct %s req/s p50 %s ms | gateway %s req/s p50 %s ms\n' "$label" \
			"$drps" "$(ms "$(pct 50 "$d_tp")")" "$grps" "$(ms "$(pct 50 "$g_tp")")"
		verdict "engine-bound $label gateway/direct throughput $ratio >= 0.85" "$(awk -v r="$ratio" 'BEGIN { print (r >= 0.85) }')"
	done
fi

[ -e "$tmp/wrk-errors" ] && { echo "wrk reported errors (above): the figures count failed requests" >&2; fail=1; }
if [ "$fail" = 1 ] && [ "$STRICT" = 1 ]; then
	exit 1
fi
exit 0
