#!/usr/bin/env bash
# Builds llmmon's image FROM scratch with the classic builder, so no base
# image and no registry are needed: bash hack/build-image.sh IMAGE VERSION REVISION LDFLAGS
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:?usage: hack/build-image.sh IMAGE [VERSION] [REVISION] [LDFLAGS]}
version=${2:-dev}
revision=${3:-unknown}
ldflags=${4:-}
certs=/etc/ssl/certs/ca-certificates.crt
[[ -r $certs ]] || { echo "$certs is missing: install Debian's ca-certificates package (apt-get install ca-certificates)" >&2; exit 1; }

ctx=$(mktemp -d)
trap 'rm -rf "$ctx"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags "$ldflags" -o "$ctx/llmmon" ./cmd/llmmon
cp "$certs" "$ctx/ca-certificates.crt"
printf 'root:x:0:0:root:/:/sbin/nologin\nllmmon:x:65532:65532:llmmon:/nonexistent:/sbin/nologin\n' >"$ctx/passwd"
printf 'root:x:0:\nllmmon:x:65532:\n' >"$ctx/group"
# The classic builder warns that it is deprecated on every build; show its
# output only when the build fails.
if ! out=$(DOCKER_BUILDKIT=0 docker build -q -f Dockerfile --build-arg VERSION="$version" --build-arg REVISION="$revision" -t "$image" "$ctx" 2>&1); then
  echo "$out" >&2
  exit 1
fi
echo "built $image"
