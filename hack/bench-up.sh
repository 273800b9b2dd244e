#!/usr/bin/env bash
# Benchmark: `llmmon up` against `docker-compose up -d` of the same three
# containers, each timed until "Prometheus and Alertmanager ready, Grafana
# healthy, and Grafana's Prometheus and Alertmanager datasources answering",
# in one run on the same engine, with the images already present (the test
# images, as no registry is reachable).
# Also times a second, no-op `llmmon up`.
#
# Goal (issue 4): llmmon ≤ 1.5× compose; second up ≤ 2 s.
#   ROUNDS=5 bash hack/bench-up.sh
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
PROM_IMAGE=llmmon-test/prometheus:debian
GRAF_IMAGE=llmmon-test/grafana-double:dev
AM_IMAGE=llmmon-test/alertmanager:debian
command -v docker-compose >/dev/null || { echo "docker-compose missing: apt-get install docker-compose" >&2; exit 1; }
for img in "$PROM_IMAGE" "$GRAF_IMAGE" "$AM_IMAGE"; do
  docker image inspect "$img" >/dev/null 2>&1 || bash hack/build-test-images.sh >/dev/null
done

work=$(mktemp -d)
suffix=$(od -An -N3 -tx1 /dev/urandom | tr -d ' \n')
name="bench-$suffix"           # llmmon stack
project="benchcompose$suffix"  # compose project
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pp=$(free_port); gp=$(free_port); ap=$(free_port); cpp=$(free_port); cgp=$(free_port); cap=$(free_port)

go build -o "$work/llmmon" ./cmd/llmmon
llmmon() { "$work/llmmon" "$@"; }
up_args=(--dir "$work/llmmon-dir" --name "$name" --prometheus-image "$PROM_IMAGE" --grafana-image "$GRAF_IMAGE"
  --alertmanager-image "$AM_IMAGE" --pull never --prometheus-port "$pp" --grafana-port "$gp" --alertmanager-port "$ap" --wait 2m)

cleanup() {
  llmmon down --dir "$work/llmmon-dir" --name "$name" --volumes >/dev/null 2>&1 || true
  (cd "$work/compose" 2>/dev/null && docker-compose -p "$project" down -v >/dev/null 2>&1) || true
  rm -rf "$work"
}
trap cleanup EXIT

# The compose side runs the seed's way: the same rendered files, bind-mounted.
llmmon render --dir "$work/compose" >/dev/null
cat >"$work/compose/docker-compose.yml" <<EOF
version: "3.8"
services:
  prometheus:
    image: $PROM_IMAGE
    command: ["--config.file=/etc/prometheus/prometheus.yml", "--storage.tsdb.path=/prometheus", "--web.listen-address=:9090"]
    user: "65534:65534"
    ports: ["127.0.0.1:$cpp:9090"]
    extra_hosts: ["host.docker.internal:host-gateway"]
    volumes: ["./prometheus:/etc/prometheus:ro", "prometheus-data:/prometheus"]
    networks: {monitoring: {aliases: [prometheus]}}
  alertmanager:
    image: $AM_IMAGE
    command: ["--config.file=/etc/alertmanager/alertmanager.yml", "--storage.path=/alertmanager", "--web.listen-address=:9093", "--cluster.listen-address="]
    user: "65534:65534"
    ports: ["127.0.0.1:$cap:9093"]
    extra_hosts: ["host.docker.internal:host-gateway"]
    volumes: ["./alertmanager:/etc/alertmanager:ro", "alertmanager-data:/alertmanager"]
    networks: {monitoring: {aliases: [alertmanager]}}
  grafana:
    image: $GRAF_IMAGE
    user: "472:0"
    environment:
      GF_SECURITY_ADMIN_PASSWORD: bench-pw
      GF_USERS_ALLOW_SIGN_UP: "false"
      GF_AUTH_ANONYMOUS_ENABLED: "false"
    ports: ["127.0.0.1:$cgp:3000"]
    volumes: ["./grafana/provisioning:/etc/grafana/provisioning:ro", "grafana-data:/var/lib/grafana"]
    networks: {monitoring: {aliases: [grafana]}}
networks: {monitoring: {}}
volumes: {prometheus-data: {}, alertmanager-data: {}, grafana-data: {}}
EOF

now() { date +%s.%N; }
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a - b }'; }
# The same readiness wait llmmon does: /-/ready twice, /api/health, then
# Grafana's datasource health API and its proxy to Alertmanager.
wait_ready() { # prom_port graf_port password am_port
  until curl -fsS "http://127.0.0.1:$1/-/ready" >/dev/null 2>&1; do sleep 0.1; done
  until curl -fsS "http://127.0.0.1:$4/-/ready" >/dev/null 2>&1; do sleep 0.1; done
  until curl -fsS "http://127.0.0.1:$2/api/health" >/dev/null 2>&1; do sleep 0.1; done
  until curl -fsS -u "admin:$3" "http://127.0.0.1:$2/api/datasources/uid/llmmon-prometheus/health" 2>/dev/null | grep -q '"OK"'; do sleep 0.1; done
  until curl -fsS -u "admin:$3" "http://127.0.0.1:$2/api/datasources/proxy/uid/llmmon-alertmanager/api/v2/status" 2>/dev/null | grep -q uptime; do sleep 0.1; done
}

compose_times=() llmmon_times=() second_times=()
for r in $(seq 1 "$ROUNDS"); do
  (cd "$work/compose" && docker-compose -p "$project" down -v >/dev/null 2>&1) || true
  t0=$(now)
  (cd "$work/compose" && docker-compose -p "$project" up -d >/dev/null 2>&1)
  wait_ready "$cpp" "$cgp" bench-pw "$cap"
  t1=$(now)
  compose_times+=("$(sub "$t1" "$t0")")
  (cd "$work/compose" && docker-compose -p "$project" down -v >/dev/null 2>&1)

  llmmon down --dir "$work/llmmon-dir" --name "$name" --volumes >/dev/null 2>&1 || true
  t0=$(now)
  llmmon up "${up_args[@]}" >/dev/null
  t1=$(now)
  llmmon up "${up_args[@]}" >/dev/null
  t2=$(now)
  llmmon_times+=("$(sub "$t1" "$t0")")
  second_times+=("$(sub "$t2" "$t1")")
  llmmon down --dir "$work/llmmon-dir" --name "$name" --volumes >/dev/null
  printf 'round %d: compose %.2fs  llmmon up %.2fs  second up %.2fs\n' "$r" "${compose_times[-1]}" "${llmmon_times[-1]}" "${second_times[-1]}"
done

median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mc=$(median "${compose_times[@]}"); ml=$(median "${llmmon_times[@]}"); ms=$(median "${second_times[@]}")
ratio=$(awk -v a="$ml" -v b="$mc" 'BEGIN { printf "%.2f", a / b }')
printf '\nmedian of %d: docker-compose up -d + wait %.2fs | llmmon up %.2fs (%.2fx compose, goal <= 1.5x) | second llmmon up %.2fs (goal <= 2s)\n' \
  "$ROUNDS" "$mc" "$ml" "$ratio" "$ms"
