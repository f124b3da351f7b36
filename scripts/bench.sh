#!/usr/bin/env bash
# wsload benchmarks, measured as ../shared/BENCHMARKS.md describes: the built-in
# echo server pinned to CPU 1, the client on CPU 0, 10,000 connections, 64-byte
# messages, median of RUNS runs with the spread (min..max).
#
#   scripts/bench.sh                 # all figures, 3 runs each
#   RUNS=5 DURATION=10s scripts/bench.sh
#   scripts/bench.sh codec           # only the frame codec micro-benchmark
#   PLAIN=0 scripts/bench.sh         # only the wss:// figures (WSS=0: only the ws:// ones)
#   scripts/bench.sh proxy           # only the proxy's cost (below)
#
# Prints: time to open 10,000 connections; client bytes per idle connection
# (VmRSS at 10,000 idle minus at 100 idle, / 9,900); echoed msgs/s at
# --in-flight 64; client CPU s per million messages and latency at 50,000 msg/s.
# Then the same first three figures over wss:// (TLS, a CA made by `wsload cert`,
# session resumption by the server's tickets), unless WSS=0.
# Proxy cost: `wsload proxy` with every fault off (pinned to PROXY_CPU, by default
# the server's: with 2 CPUs it shares it), 1,000 connections, the same loads run
# directly and through the proxy: echoed msgs/s at --in-flight 16, and p50/p99 at
# 10 msg/s per connection; the difference is what the proxy adds (PROXY=0 skips it).
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
WSS=${WSS:-1}
PLAIN=${PLAIN:-1}
CONNS=${CONNS:-10000}
DURATION=${DURATION:-10s}
CLIENT_CPU=${CLIENT_CPU:-0}
SERVER_CPU=${SERVER_CPU:-1}
PROXY_CPU=${PROXY_CPU:-$SERVER_CPU}
PROXY_CONNS=${PROXY_CONNS:-1000}
PROXY=${PROXY:-1}
BIN=${BIN:-target/release/wsload}
WORK=$(mktemp -d /tmp/wsload-bench.XXXXXX)
SERVER_PID=""
PROXY_PID=""

stop_server() {
    if [[ -n "$PROXY_PID" ]]; then kill "$PROXY_PID" 2>/dev/null || true; wait "$PROXY_PID" 2>/dev/null || true; fi
    PROXY_PID=""
    if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
    SERVER_PID=""
}
cleanup() {
    stop_server
    rm -rf "$WORK"
}
trap cleanup EXIT

cargo build --release --quiet

if [[ "${1:-}" == "codec" ]]; then
    cargo bench --quiet --bench codec
    exit 0
fi

# start_server ARGS... : our own echo server, alone on its CPU, bounded in time; sets ADDR.
start_server() {
    taskset -c "$SERVER_CPU" "$BIN" serve --port 0 --cores "$SERVER_CPU" --for 1h "$@" >"$WORK/server.out" 2>"$WORK/server.err" &
    SERVER_PID=$!
    for _ in $(seq 100); do grep -q "listening on" "$WORK/server.out" 2>/dev/null && break; sleep 0.1; done
    ADDR=$(sed -n 's/^listening on //p' "$WORK/server.out")
    [[ -n "$ADDR" ]] || { echo "server did not start: $(cat "$WORK/server.err")" >&2; exit 1; }
}
start_server
URL="ws://$ADDR/"
CLIENT_ARGS=()
echo "# wsload benchmarks: client CPU $CLIENT_CPU, server CPU $SERVER_CPU ($URL), $CONNS connections, 64 B, $RUNS runs"

# run_at URL NAME ARGS... : one client run against URL, summary JSON saved as $WORK/NAME.json
run_at() {
    local url=$1 name=$2; shift 2
    "$BIN" run "$url" "${CLIENT_ARGS[@]}" --cores "$CLIENT_CPU" -q --json --out "$WORK/$name" "$@" >"$WORK/$name.json" 2>"$WORK/$name.err" || true
}

# run NAME ARGS... : one client run against $URL
run() {
    run_at "$URL" "$@"
}

# field FILE... : print one JSON path from each summary
field() {
    local path=$1; shift
    python3 - "$path" "$@" <<'PY'
import json, sys
path = sys.argv[1].split(".")
for f in sys.argv[2:]:
    v = json.load(open(f))
    for p in path:
        v = v[p]
    print(v)
PY
}

# stats LABEL UNIT VALUES... : median and spread
stats() {
    local label=$1 unit=$2; shift 2
    python3 - "$label" "$unit" "$@" <<'PY'
import statistics, sys
label, unit, vals = sys.argv[1], sys.argv[2], [float(v) for v in sys.argv[3:]]
if not vals:
    print(f"{label:<48} no data"); sys.exit()
fmt = (lambda v: f"{v:,.0f}") if max(vals) >= 100 else (lambda v: f"{v:.3f}")
print(f"{label:<48} {fmt(statistics.median(vals)):>12} {unit:<14} (min {fmt(min(vals))}, max {fmt(max(vals))}, n={len(vals)})")
PY
}

# idle_rss N : VmRSS (bytes) of a client holding N idle connections
idle_rss() {
    local n=$1
    "$BIN" run "$URL" "${CLIENT_ARGS[@]}" --cores "$CLIENT_CPU" -c "$n" --rate 0 -d 3s --out "$WORK/idle$n" >/dev/null 2>"$WORK/idle$n.err" &
    local pid=$!
    for _ in $(seq 300); do
        grep -qE "open +$n " "$WORK/idle$n.err" 2>/dev/null && break
        sleep 0.05
    done
    awk '/VmRSS/ {print $2 * 1024}' "/proc/$pid/status"
    wait "$pid" || true
}

# proxy_cost : the same loads directly and through `wsload proxy` (no toxic), median of RUNS
proxy_cost() {
    taskset -c "$PROXY_CPU" "$BIN" proxy --listen 127.0.0.1:0 --upstream "$ADDR" --cores "$PROXY_CPU" --for 1h \
        >"$WORK/proxy.out" 2>"$WORK/proxy.err" &
    PROXY_PID=$!
    for _ in $(seq 100); do grep -q "listening on" "$WORK/proxy.out" 2>/dev/null && break; sleep 0.1; done
    local paddr
    paddr=$(sed -n 's/^listening on //p' "$WORK/proxy.out")
    [[ -n "$paddr" ]] || { echo "proxy did not start: $(cat "$WORK/proxy.err")" >&2; exit 1; }
    echo "# proxy cost: proxy on CPU $PROXY_CPU (ws://$paddr/ -> $URL), $PROXY_CONNS connections, faults off"
    local d_rate=() p_rate=() d50=() p50x=() d99=() p99x=() add50=() add99=()
    for i in $(seq "$RUNS"); do
        run_at "$URL" "pdmax$i" -c "$PROXY_CONNS" --in-flight 16 -d "$DURATION"
        run_at "ws://$paddr/" "ppmax$i" -c "$PROXY_CONNS" --in-flight 16 -d "$DURATION"
        run_at "$URL" "pdlat$i" -c "$PROXY_CONNS" --rate 10 -d "$DURATION"
        run_at "ws://$paddr/" "pplat$i" -c "$PROXY_CONNS" --rate 10 -d "$DURATION"
        d_rate+=("$(field messages.rate_per_s "$WORK/pdmax$i.json")")
        p_rate+=("$(field messages.rate_per_s "$WORK/ppmax$i.json")")
        local a b
        a=$(field latency_us.corrected.p50 "$WORK/pdlat$i.json"); b=$(field latency_us.corrected.p50 "$WORK/pplat$i.json")
        d50+=("$a"); p50x+=("$b"); add50+=("$((b - a))")
        a=$(field latency_us.corrected.p99 "$WORK/pdlat$i.json"); b=$(field latency_us.corrected.p99 "$WORK/pplat$i.json")
        d99+=("$a"); p99x+=("$b"); add99+=("$((b - a))")
        lost=$(field messages.lost "$WORK/ppmax$i.json" "$WORK/pplat$i.json" | paste -sd+ | bc)
        [[ "$lost" == "0" ]] || echo "warning: proxy run $i lost $lost messages" >&2
    done
    stats "echoed msgs/s, --in-flight 16, direct" "msg/s" "${d_rate[@]}"
    stats "echoed msgs/s, --in-flight 16, through proxy" "msg/s" "${p_rate[@]}"
    stats "latency p50 at 10k msg/s, direct" "us" "${d50[@]}"
    stats "latency p50 at 10k msg/s, through proxy" "us" "${p50x[@]}"
    stats "latency p99 at 10k msg/s, direct" "us" "${d99[@]}"
    stats "latency p99 at 10k msg/s, through proxy" "us" "${p99x[@]}"
    stats "proxy: added p50 (same run pairs)" "us" "${add50[@]}"
    stats "proxy: added p99 (same run pairs)" "us" "${add99[@]}"
    kill "$PROXY_PID" 2>/dev/null || true; wait "$PROXY_PID" 2>/dev/null || true; PROXY_PID=""
}

if [[ "${1:-}" == "proxy" ]]; then
    proxy_cost
    exit 0
fi

open_s=(); per_conn=(); rate=(); cpu_max=(); cpu50=(); p50=(); p99=(); p999=()
[[ "$PLAIN" == "1" ]] || RUNS_PLAIN=0
for i in $(seq "${RUNS_PLAIN:-$RUNS}"); do
    run "open$i" -c "$CONNS" --rate 0 -d 1s
    open_s+=("$(field connections.time_to_all_s "$WORK/open$i.json")")

    small=$(idle_rss 100); big=$(idle_rss "$CONNS")
    per_conn+=("$(( (big - small) / (CONNS - 100) ))")

    run "max$i" -c "$CONNS" --in-flight 64 -d "$DURATION"
    rate+=("$(field messages.rate_per_s "$WORK/max$i.json")")
    cpu_max+=("$(field client.cpu_s_per_million_msgs "$WORK/max$i.json")")

    run "fixed$i" -c "$CONNS" --rate 5 -d "$DURATION"
    cpu50+=("$(field client.cpu_s_per_million_msgs "$WORK/fixed$i.json")")
    p50+=("$(field latency_us.corrected.p50 "$WORK/fixed$i.json")")
    p99+=("$(field latency_us.corrected.p99 "$WORK/fixed$i.json")")
    p999+=("$(field latency_us.corrected.p99_9 "$WORK/fixed$i.json")")
    lost=$(field messages.lost "$WORK/max$i.json" "$WORK/fixed$i.json" | paste -sd+ | bc)
    [[ "$lost" == "0" ]] || echo "warning: run $i lost $lost messages" >&2
done

if [[ "$PLAIN" == "1" ]]; then
    stats "time to open $CONNS connections" s "${open_s[@]}"
    stats "client memory per idle connection" "B" "${per_conn[@]}"
    stats "echoed messages/s, --in-flight 64" "msg/s" "${rate[@]}"
    stats "client CPU per million msgs, --in-flight 64" "s" "${cpu_max[@]}"
    stats "client CPU per million msgs, 50k msg/s" "s" "${cpu50[@]}"
    stats "corrected latency p50 at 50k msg/s" "us" "${p50[@]}"
    stats "corrected latency p99 at 50k msg/s" "us" "${p99[@]}"
    stats "corrected latency p99.9 at 50k msg/s" "us" "${p999[@]}"
    echo "# a message is one echo (send + receive + check); CPU is user + system of the client process from load start to end"
fi

if [[ "$PROXY" == "1" && "$PLAIN" == "1" ]]; then proxy_cost; fi

[[ "$WSS" == "1" ]] || exit 0
# wss://: the same server over TLS, with a CA made here (offline, no OpenSSL).
"$BIN" cert --out "$WORK/certs" >/dev/null
stop_server
start_server --tls-cert "$WORK/certs/cert.pem" --tls-key "$WORK/certs/key.pem"
URL="wss://$ADDR/"
CLIENT_ARGS=(--ca "$WORK/certs/ca.pem")
echo "# wss:// ($URL): TLS 1.3, ECDSA P-256 certificate, session tickets"
open_s=(); per_conn=(); rate=(); cpu_max=(); resumed=(); tls_p50=()
for i in $(seq "$RUNS"); do
    run "wopen$i" -c "$CONNS" --rate 0 -d 1s
    open_s+=("$(field connections.time_to_all_s "$WORK/wopen$i.json")")
    resumed+=("$(field tls.resumed_share "$WORK/wopen$i.json")")
    tls_p50+=("$(field latency_us.tls_handshake.p50 "$WORK/wopen$i.json")")

    small=$(idle_rss 100); big=$(idle_rss "$CONNS")
    per_conn+=("$(( (big - small) / (CONNS - 100) ))")

    run "wmax$i" -c "$CONNS" --in-flight 64 -d "$DURATION"
    rate+=("$(field messages.rate_per_s "$WORK/wmax$i.json")")
    cpu_max+=("$(field client.cpu_s_per_million_msgs "$WORK/wmax$i.json")")
    lost=$(field messages.lost "$WORK/wmax$i.json")
    [[ "$lost" == "0" ]] || echo "warning: wss run $i lost $lost messages" >&2
done
stats "wss: time to open $CONNS connections" s "${open_s[@]}"
stats "wss: share of handshakes resumed" "" "${resumed[@]}"
stats "wss: TLS handshake p50 while opening" "us" "${tls_p50[@]}"
stats "wss: client memory per idle connection" "B" "${per_conn[@]}"
stats "wss: echoed messages/s, --in-flight 64" "msg/s" "${rate[@]}"
stats "wss: client CPU per million msgs, --in-flight 64" "s" "${cpu_max[@]}"
