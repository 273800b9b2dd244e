# lib.sh: what the bench and profile scripts share. Source it from the
# checkout's top, after `set -euo pipefail`:
#
#   . hack/lib.sh
#
# It makes $tmp, removed on exit after every process in pids is stopped,
# and defines free_port, wait_up, best and post_lua.

tmp=$(mktemp -d)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT

# free_port prints a TCP port free on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_up URL LOG [NAME] waits up to 15 s for URL/health, else prints LOG
# and exits.
wait_up() {
	for _ in $(seq 150); do curl -sf "$1/health" >/dev/null && return 0; sleep 0.1; done
	echo "${3:-the server at $1} did not start; its log:" >&2; cat "$2" >&2; exit 1
}

# best A B prints the larger number.
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }

# post_lua [DIR] sets lua to the request wrk sends: DIR/post.lua (DIR is
# ../shared/bench next to the checkout by default), or, where that is
# missing (a fresh checkout has no ../shared), the same script in $tmp.
post_lua() {
	lua=${1:-$(git rev-parse --show-toplevel)/../shared/bench}/post.lua
	[ -f "$lua" ] && return
	lua=$tmp/post.lua
	cat >"$lua" <<'LUA'
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
local stream = os.getenv("STREAM") == "1"
wrk.body = '{"model":"demo","prompt":"Say something about monitoring.","max_tokens":16,"stream":' .. (stream and "true" or "false") .. '}'
LUA
}
