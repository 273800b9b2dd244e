#!/usr/bin/env bash
# Builds llmmon's test images without a registry, with `docker import`:
#  - llmmon-test/prometheus:debian      Debian's /usr/bin/prometheus (real Prometheus)
#  - llmmon-test/alertmanager:debian    Debian's /usr/bin/prometheus-alertmanager (real Alertmanager) and amtool
#  - llmmon-test/grafana-double:dev     the Grafana test double (test/grafanadouble/cmd/grafana-double)
#  - llmmon-test/llmmon:dev             llmmon's own image, as make image builds it
# Tags are our own, never upstream names.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

build_prometheus() {
  local root="$work/prom"
  mkdir -p "$root"/{bin,etc,lib/x86_64-linux-gnu,lib64,usr/share,prometheus,etc/prometheus}
  cp /usr/bin/prometheus /usr/bin/promtool "$root/bin/"
  cp -L /lib/x86_64-linux-gnu/libc.so.6 "$root/lib/x86_64-linux-gnu/"
  cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
  cp -r /usr/share/prometheus "$root/usr/share/" 2>/dev/null || true
  printf 'root:x:0:0:root:/:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  chown -R 65534:65534 "$root/prometheus" "$root/etc/prometheus"
  tar -C "$root" -c . | docker import \
    -c 'ENTRYPOINT ["/bin/prometheus"]' \
    -c 'CMD ["--config.file=/etc/prometheus/prometheus.yml","--storage.tsdb.path=/prometheus"]' \
    -c 'USER nobody' -c 'EXPOSE 9090' -c 'WORKDIR /prometheus' \
    - llmmon-test/prometheus:debian >/dev/null
  echo "built llmmon-test/prometheus:debian"
}

build_alertmanager() {
  command -v prometheus-alertmanager >/dev/null || { echo "prometheus-alertmanager missing: apt-get install prometheus-alertmanager" >&2; exit 1; }
  local root="$work/am"
  mkdir -p "$root"/{bin,etc/alertmanager,etc/ssl/certs,lib/x86_64-linux-gnu,lib64,usr/share/prometheus,alertmanager}
  cp /usr/bin/prometheus-alertmanager "$root/bin/alertmanager"
  cp /usr/bin/amtool "$root/bin/"
  cp -L /lib/x86_64-linux-gnu/libc.so.6 "$root/lib/x86_64-linux-gnu/"
  cp -L /lib64/ld-linux-x86-64.so.2 "$root/lib64/"
  # Its UI and the notification templates it loads.
  cp -r /usr/share/prometheus/alertmanager "$root/usr/share/prometheus/"
  [[ -f /etc/ssl/certs/ca-certificates.crt ]] && cp /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/"
  printf 'route:\n  receiver: nobody\nreceivers:\n  - name: nobody\n' >"$root/etc/alertmanager/alertmanager.yml"
  printf 'root:x:0:0:root:/:/bin/false\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
  chown -R 65534:65534 "$root/alertmanager" "$root/etc/alertmanager"
  tar -C "$root" -c . | docker import \
    -c 'ENTRYPOINT ["/bin/alertmanager"]' \
    -c 'CMD ["--config.file=/etc/alertmanager/alertmanager.yml","--storage.path=/alertmanager"]' \
    -c 'USER nobody' -c 'EXPOSE 9093' -c 'WORKDIR /alertmanager' \
    - llmmon-test/alertmanager:debian >/dev/null
  echo "built llmmon-test/alertmanager:debian"
}

build_grafana_double() {
  [[ -d test/grafanadouble/cmd/grafana-double ]] || return 0
  local root="$work/grafana"
  mkdir -p "$root"/{bin,etc,var/lib/grafana,etc/grafana/provisioning,etc/grafana/dashboards}
  CGO_ENABLED=0 go build -trimpath -o "$root/bin/grafana-double" ./test/grafanadouble/cmd/grafana-double
  # `grafana cli admin reset-admin-password X` works as in the real image.
  ln -s grafana-double "$root/bin/grafana"
  ln -s grafana-double "$root/bin/grafana-cli"
  printf 'root:x:0:0:root:/:/bin/false\ngrafana:x:472:0:grafana:/var/lib/grafana:/bin/false\n' >"$root/etc/passwd"
  printf 'root:x:0:\n' >"$root/etc/group"
  chown -R 472:0 "$root/var/lib/grafana" "$root/etc/grafana"
  tar -C "$root" -c . | docker import \
    -c 'ENTRYPOINT ["/bin/grafana-double"]' \
    -c 'USER 472' -c 'EXPOSE 3000' \
    - llmmon-test/grafana-double:dev >/dev/null
  echo "built llmmon-test/grafana-double:dev"
}

build_prometheus
build_alertmanager
build_grafana_double
bash hack/build-image.sh llmmon-test/llmmon:dev
