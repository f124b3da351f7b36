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
#   scripts/bench.sh sweep           # the rate sweep of issue 14 against the peers (below)
#   scripts/bench.sh server          # the server's cost per message and per idle connection (below)
#   scripts/bench.sh flood           # full-speed echoes against the peers, one sitting (below)
#   scripts/bench.sh soak            # the client's memory over a long run (below)
#   KEEP=1 scripts/bench.sh ...      # keep every raw output (the directory is named at the end)
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
#
# Sweep (one sitting): CONNS connections x RATES msg/s each (default "1 2 3 4 5"), 64 B binary,
# open loop, DURATION steady (default 15s), RUNS runs (medians). Servers, each pinned to
# SERVER_CPU: REF_SERVER (if set: a command that takes a port, e.g. /work/peers/bin/uws-echo)
# and `wsload serve`. Clients, each pinned to CLIENT_CPU: tcpkali (if TCPKALI is set: its
# binary), the floor (benches/floor.rs: epoll, one send and one recv per message) and wsload.
# scripts/peers.sh builds tcpkali and the reference server outside the repository and prints
# the two exports (`eval "$(scripts/peers.sh)"`).
# Per rate and client: client cores used and CPU s per million echoes over the steady window
# (user + system from /proc/PID/stat: the floor and tcpkali sampled from outside, SAMPLE_MARGIN
# inside each end of the window; wsload from its summary.json, whose window is its load phase),
# corrected p50/p99, send-delay p99, and the server's CPU us per echo; every client figure also
# as a ratio to the floor's at the same rate. Then the knee per client: the highest offered rate
# whose p99 is <= KNEE_P99_MS (default 10 ms). tcpkali's latency is its --latency-marker
# histogram: from the actual write (uncorrected), over the whole run including the connect ramp,
# in 0.1 ms steps; it reports no send delay. SWEEP_OUT=FILE keeps every run's figures (JSON lines).
# FLOOR_TICK=1ms (read by the floor) makes the floor batch a millisecond of work per loop, as
# libev-based clients do; TCPKALI_WORKERS (default 1) is tcpkali's -w.
#   TCPKALI=/work/peers/bin/tcpkali REF_SERVER=/work/peers/bin/uws-echo RUNS=1 scripts/bench.sh sweep
#
# Server: each server (`wsload serve`, and REF_SERVER if set) fresh on SERVER_CPU, driven by the
# floor client on CLIENT_CPU: bytes per idle connection (server VmRSS with CONNS idle connections
# minus with 100, / (CONNS - 100)), then CPU us per echo at SERVER_RATES msg/s per connection
# (default "1 3": 10k and 30k msg/s with 10,000 connections), over DURATION (default 15s). The
# servers take turns within each run, and the ratio line is the median of the runs' own ratios,
# so a sitting that slows down part-way does not favour the server measured first.
#
# Flood (one sitting): each server, then each client (tcpkali if TCPKALI is set, wsload) at full
# speed for DURATION (default 10s): tcpkali writes as fast as it can (its received rate is its
# received bytes / 66), wsload keeps FLOOD_IN_FLIGHT messages (default 64) in flight per
# connection and checks every echo. Per server and client: received msgs/s, client cores, CPU s
# per million, lost; RUNS runs, medians. tcpkali runs against REF_SERVER only: against `wsload
# serve`, which stops reading while its echoes wait (uWebSockets drops them past its
# maxBackpressure), tcpkali's flood does not stop at its -T.
#   TCPKALI=/work/peers/bin/tcpkali REF_SERVER=/work/peers/bin/uws-echo RUNS=3 scripts/bench.sh flood
#
# Soak: CONNS connections x SOAK_RATE msg/s each (default 1), 64 B, for DURATION (default 10m),
# client on CLIENT_CPU against `wsload serve` on SERVER_CPU; the client's VmRSS and RssAnon from
# /proc/PID/status every SOAK_EVERY seconds (default 10). Prints every sample, the RSS at minute 1
# and at the end of the traffic, the growth between them, the lowest and the highest sample, the
# slope of the running peak (least squares over the samples from minute 1 on: the allocator may
# hand a few MB back for a while), and the messages sent and lost from summary.json. RssAnon
# (heap, stacks) is the figure to judge: VmRSS also counts the binary's mapped pages. Arguments
# after `soak` go to `wsload run`.
#   CONNS=10000 scripts/bench.sh soak             # issue 16's 10-minute soak
#   CONNS=2000 DURATION=180s scripts/bench.sh soak --metrics-listen 9464
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS=${RUNS:-3}
WSS=${WSS:-1}
PLAIN=${PLAIN:-1}
CONNS=${CONNS:-10000}
DURATION_SET=${DURATION:-}
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
    if [[ -n "${KEEP:-}" ]]; then echo "# raw outputs kept in $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

cargo build --release --quiet

case "${1:-}" in
    codec)
        cargo bench --quiet --bench codec
        exit 0
        ;;
    sweep | server)
        # The floor client's binary (a harness-less bench target), run directly so that its PID is the client's.
        FLOOR=$(cargo bench --no-run --quiet --bench floor --message-format=json 2>/dev/null |
            python3 -c 'import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "floor" and m.get("executable"):
        print(m["executable"])')
        [[ -x "$FLOOR" ]] || { echo "could not build benches/floor.rs" >&2; exit 1; }
        ;;
esac

# start_server ARGS... : our own echo server, alone on its CPU, bounded in time; sets ADDR.
start_server() {
    taskset -c "$SERVER_CPU" "$BIN" serve --port 0 --cores "$SERVER_CPU" --for 1h "$@" >"$WORK/server.out" 2>"$WORK/server.err" &
    SERVER_PID=$!
    for _ in $(seq 100); do grep -q "listening on" "$WORK/server.out" 2>/dev/null && break; sleep 0.1; done
    ADDR=$(sed -n 's/^listening on //p' "$WORK/server.out")
    [[ -n "$ADDR" ]] || { echo "server did not start: $(cat "$WORK/server.err")" >&2; exit 1; }
}

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

# ---- sweep and server modes (issue 14): peers found through TCPKALI= and REF_SERVER= ----
TCPKALI=${TCPKALI:-}
TCPKALI_WORKERS=${TCPKALI_WORKERS:-1}
REF_SERVER=${REF_SERVER:-}
SAMPLE_MARGIN=${SAMPLE_MARGIN:-0.5}
KNEE_P99_MS=${KNEE_P99_MS:-10}
SETTLE=${SETTLE:-2}
FLOOD_IN_FLIGHT=${FLOOD_IN_FLIGHT:-64}
SAMPLER_PID=""

# secs DURATION : a duration (15s, 500ms, 2m, 15) in seconds
secs() {
    python3 -c 'import sys
s = sys.argv[1]
for suf, k in (("ms", 1e-3), ("s", 1.0), ("m", 60.0)):
    if s.endswith(suf):
        print(float(s[: -len(suf)]) * k); break
else:
    print(float(s))' "$1"
}

# start_ref : REF_SERVER alone on its CPU, on a free port; sets ADDR and SERVER_PID.
start_ref() {
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    taskset -c "$SERVER_CPU" "$REF_SERVER" "$port" >"$WORK/ref.out" 2>"$WORK/ref.err" &
    SERVER_PID=$!
    ADDR=127.0.0.1:$port
    for _ in $(seq 100); do
        kill -0 "$SERVER_PID" 2>/dev/null || break
        if (: <>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "REF_SERVER did not start on port $port: $(cat "$WORK/ref.err")" >&2
    exit 1
}

# start_named ref|wsload : a fresh server of that kind
start_named() {
    stop_server
    if [[ "$1" == "ref" ]]; then start_ref; else start_server; fi
}

# sample_window CLIENT_PID ERRFILE MARKER OUT : in the background, the CPU seconds (user + system,
# /proc/PID/stat) of the client and of the server over the client's steady window, from
# SAMPLE_MARGIN after MARKER appears in ERRFILE (or after the "at T ns" CLOCK_MONOTONIC time the
# marker line gives) to SAMPLE_MARGIN before DURATION ends; JSON to OUT. Samples every 0.1 s, so a
# client that ends early still gives its window up to its last sample (an error below 80 %).
sample_window() {
    python3 - "$1" "$SERVER_PID" "$2" "$3" "$(secs "$DURATION")" "$SAMPLE_MARGIN" "$4" <<'PY' &
import json, os, re, sys, time
client, server, errfile, marker, dur, margin, out = sys.argv[1:]
dur, margin = float(dur), float(margin)
hz = os.sysconf("SC_CLK_TCK")

def cpu(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / hz

def result(r):
    with open(out, "w") as f:
        json.dump(r, f)
    sys.exit(0)

deadline = time.monotonic() + 120  # connecting 10,000 takes seconds, not minutes
while True:
    try:
        with open(errfile, errors="replace") as f:
            text = f.read()
    except OSError:
        text = ""
    if marker in text:
        break
    if cpu(client) is None or time.monotonic() > deadline:
        result({"error": f"no '{marker}' from the client"})
    time.sleep(0.01)
at = re.search(re.escape(marker) + r" at (\d+) ns", text)
start = int(at.group(1)) / 1e9 if at else time.monotonic()  # time.monotonic() is CLOCK_MONOTONIC
time.sleep(max(start + margin - time.monotonic(), 0))
first = (time.monotonic(), cpu(client), cpu(server))
last, gone = first, "client" if first[1] is None else "server"
while time.monotonic() < start + dur - margin:
    time.sleep(min(0.1, max(start + dur - margin - time.monotonic(), 0.001)))
    now = (time.monotonic(), cpu(client), cpu(server))
    if None in now:
        gone = "client" if now[1] is None else "server"
        break
    last = now
(t0, c0, s0), (t1, c1, s1) = first, last
if None in first or t1 - t0 < 0.8 * (dur - 2 * margin):
    result({"error": f"the {gone} ended {time.monotonic() - start:.1f} s into the window"
            f" ({t1 - t0:.1f} s sampled, from {t0 - start:.1f} s)"})
result({"window_s": t1 - t0, "client_cpu_s": c1 - c0, "server_cpu_s": s1 - s0})
PY
    SAMPLER_PID=$!
}

# watchdog PID : in the background, end PID if it outlives DURATION plus two minutes (connecting,
# draining); a client that hangs (tcpkali's main thread can block for good on a busy machine) must
# not hold up the sitting. Polls once a second, so it ends within a second of the client.
watchdog() {
    local limit
    limit=$(python3 -c 'import sys; print(int(float(sys.argv[1])) + 120)' "$(secs "$DURATION")")
    (
        for _ in $(seq "$limit"); do kill -0 "$1" 2>/dev/null || exit 0; sleep 1; done
        echo "# client $1 still running after ${limit}s: ending it" >&2
        kill "$1" 2>/dev/null || true
    ) &
}

# wait_ports [MAX_HELD] : until TIME_WAIT sockets hold at most MAX_HELD ephemeral ports (default:
# enough left for CONNS more connections), for at most 70 s. A client that closes first leaves
# its sockets in TIME_WAIT for 60 s (tcpkali does: 10,000 after each run). connect() reuses those
# ports on loopback, but tcpkali binds its source address first, and with most of the range held
# its ramp slows until it fails ("Could not create 10000 connections"): before tcpkali, wait_ports 1000.
wait_ports() {
    local lo hi held waited=0 max
    read -r lo hi </proc/sys/net/ipv4/ip_local_port_range
    max=${1:-$((hi - lo + 1 - CONNS - 2000))}
    while true; do
        # Ports held: distinct local ports in the range (a server's TIME_WAIT sockets share one).
        held=$(ss -Htan state time-wait | awk -v lo="$lo" -v hi="$hi" \
            '{ n = split($3, a, ":"); p = a[n] + 0; if (p >= lo && p <= hi && !seen[p]++) c++ } END { print c + 0 }')
        (( held <= max || waited >= 70 )) && break
        (( waited == 0 )) && echo "# waiting for TIME_WAIT sockets holding $held ports (of $lo-$hi) to expire" >&2
        sleep 5
        waited=$((waited + 5))
    done
}

# client_floor RATE NAME : the floor client (benches/floor.rs) at RATE msg/s per connection
client_floor() {
    taskset -c "$CLIENT_CPU" "$FLOOR" --addr "$ADDR" -c "$CONNS" --rate "$1" -d "$DURATION" --cpu "$CLIENT_CPU" \
        >"$WORK/$2.out" 2>"$WORK/$2.err" &
    local pid=$!
    watchdog "$pid"
    sample_window "$pid" "$WORK/$2.err" "steady window starts" "$WORK/$2.cpu"
    wait "$pid" || true
    wait "$SAMPLER_PID" || true
}

# client_tcpkali RATE NAME : tcpkali, one worker thread, 64-byte messages ending in its latency marker
# (RATE "flood": as fast as it can write)
client_tcpkali() {
    local rate=(-r "$1")
    [[ "$1" == flood ]] && rate=()
    taskset -c "$CLIENT_CPU" "$TCPKALI" --ws -w "$TCPKALI_WORKERS" -c "$CONNS" --connect-rate 10000 -T "$DURATION" \
        -m "$(printf 'x%.0s' $(seq 60))PING" "${rate[@]}" --latency-marker PING --latency-percentiles 50,99 "$ADDR" \
        >"$WORK/$2.out" 2>"$WORK/$2.err" &
    local pid=$!
    watchdog "$pid"
    sample_window "$pid" "$WORK/$2.err" "Ramped up to" "$WORK/$2.cpu"
    wait "$pid" || true
    wait "$SAMPLER_PID" || true
}

# client_wsload RATE NAME : this build's wsload, on one core, with the server's CPU sampled by --server-pid
# (RATE "flood": closed loop, FLOOD_IN_FLIGHT messages in flight per connection, every echo checked)
client_wsload() {
    local load=(--rate "$1")
    [[ "$1" == flood ]] && load=(--in-flight "$FLOOD_IN_FLIGHT")
    taskset -c "$CLIENT_CPU" "$BIN" run "ws://$ADDR/" -c "$CONNS" "${load[@]}" --size 64 -d "$DURATION" \
        --cores "$CLIENT_CPU" --server-pid "$SERVER_PID" -q --out "$WORK/$2" >/dev/null 2>"$WORK/$2.err" &
    local pid=$!
    watchdog "$pid"
    wait "$pid" || true
}

# record KIND SERVER RATE RUN NAME : one run's figures as a JSON line on stdout
record() {
    python3 - "$@" "$WORK" "$CONNS" <<'PY'
import json, os, re, sys
kind, server, rate, run, name, work, conns = sys.argv[1:]
rate, conns = (0.0 if rate == "flood" else float(rate)), int(conns)
p = lambda ext: os.path.join(work, name + ext)
r = {"client": kind, "server": server, "rate": rate, "offered": rate * conns, "run": int(run)}

def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""

def from_window(received_per_s):
    w = json.loads(read(p(".cpu")) or '{"error": "no CPU sample"}')
    if "error" in w or received_per_s <= 0:
        r["error"] = w.get("error", "no messages received")
        return
    msgs = received_per_s * w["window_s"]
    r["cores"] = w["client_cpu_s"] / w["window_s"]
    r["cpu_per_m"] = w["client_cpu_s"] / (msgs / 1e6)
    r["server_us"] = w["server_cpu_s"] / msgs * 1e6

if kind == "floor":
    lines = [l for l in read(p(".out")).splitlines() if l.startswith("{")]
    if not lines:
        r["error"] = (read(p(".err")).strip().splitlines() or ["no output"])[-1]
    else:
        f = json.loads(lines[-1])
        r.update(received_per_s=f["received_per_s"], lost=f["lost"] + f["corrupted"],
                 p50_ms=f["latency_us"]["p50"] / 1e3, p99_ms=f["latency_us"]["p99"] / 1e3,
                 p99w_ms=f["uncorrected_us"]["p99"] / 1e3, sd_p99_ms=f["send_delay_us"]["p99"] / 1e3, self_cpu_s=f["cpu_s"])
        from_window(f["received_per_s"])
elif kind == "tcpkali":
    out = read(p(".out"))
    rcvd = re.search(r"Total data received:.*\((\d+) bytes\)", out)
    dur = re.search(r"Test duration: ([\d.]+) s", out)
    lat = re.search(r"Message latency at percentiles: ([\d.]+)/([\d.]+) ms", out)
    if not (rcvd and dur and lat):
        r["error"] = (read(p(".err")).strip().splitlines() or ["no output"])[-1]
    else:
        # Echoed frames are 66 bytes on the wire (2-byte header, 64-byte payload), counted after the ramp.
        r.update(received_per_s=int(rcvd.group(1)) / 66 / float(dur.group(1)),
                 p50_ms=float(lat.group(1)), p99_ms=float(lat.group(2)), p99w_ms=float(lat.group(2)))
        from_window(r["received_per_s"])
else:
    try:
        s = json.loads(read(os.path.join(work, name, "summary.json")))
    except ValueError:
        r["error"] = (read(p(".err")).strip().splitlines() or ["no summary.json"])[-1]
    else:
        m, c, lat = s["messages"], s["client"], s["latency_us"]["corrected"]
        r.update(received_per_s=m["received"] / s["duration_s"], lost=m["lost"] + m["corrupted"],
                 cores=c["cpu_busy"], cpu_per_m=c["cpu_s_per_million_msgs"],
                 p50_ms=lat["p50"] / 1e3, p99_ms=lat["p99"] / 1e3,
                 p99w_ms=s["latency_us"]["uncorrected"]["p99"] / 1e3, sd_p99_ms=c["send_delay_us"]["p99"] / 1e3,
                 server_us=(s.get("server") or {}).get("cpu_s_per_million_msgs"))
print(json.dumps(r))
PY
}

# sweep_table FILE : medians per (server, rate, client), ratios to the floor, and the knees
sweep_table() {
    python3 - "$1" "$KNEE_P99_MS" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
knee_ms = float(sys.argv[2])
order = {"floor": 0, "tcpkali": 1, "wsload": 2}
FIGS = ("received_per_s", "cores", "cpu_per_m", "p50_ms", "p99_ms", "p99w_ms", "sd_p99_ms", "server_us", "lost")

def med(runs, k):
    v = [x[k] for x in runs if x.get(k) is not None]
    return statistics.median(v) if v else None

def num(v, digits):
    return "-" if v is None else f"{v:,.{digits}f}"

def with_ratio(v, f, digits):
    if v is None:
        return "-"
    if f in (None, 0):
        return num(v, digits)
    return f"{num(v, digits)} ({v / f:.2f}x)"

def rate_label(offered):
    return f"{offered / 1000:g}k"

for server in dict.fromkeys(r["server"] for r in rows):
    srows = [r for r in rows if r["server"] == server]
    n_runs = max(r["run"] for r in srows)
    print(f"\n## server: {server}   (median of {n_runs} run(s); (x) = ratio to the floor at the same rate)")
    head = ("offered", "client", "recv/s", "cores", "CPU s/1M msgs", "p50 ms", "p99 ms", "p99 from write",
            "send-delay p99 ms",
            "server us/msg", "lost")
    table = [head]
    fig = {}
    for offered in sorted({r["offered"] for r in srows}):
        for client in sorted({r["client"] for r in srows}, key=lambda c: order.get(c, 9)):
            runs = [r for r in srows if r["offered"] == offered and r["client"] == client]
            fig[(offered, client)] = {k: med(runs, k) for k in FIGS}
            errs = [r["error"] for r in runs if "error" in r]
            fig[(offered, client)]["error"] = errs[0] if errs and len(errs) == len(runs) else None
        for client in sorted({r["client"] for r in srows}, key=lambda c: order.get(c, 9)):
            m = fig[(offered, client)]
            fl = fig.get((offered, "floor"), {}) if client != "floor" else {}
            if m["error"]:
                table.append((rate_label(offered), client, "failed: " + m["error"][:100]))
                continue
            table.append((
                rate_label(offered), client, num(m["received_per_s"], 0),
                with_ratio(m["cores"], fl.get("cores"), 2),
                with_ratio(m["cpu_per_m"], fl.get("cpu_per_m"), 1),
                with_ratio(m["p50_ms"], fl.get("p50_ms"), 2),
                with_ratio(m["p99_ms"], fl.get("p99_ms"), 2),
                with_ratio(m["p99w_ms"], fl.get("p99w_ms"), 2),
                with_ratio(m["sd_p99_ms"], fl.get("sd_p99_ms"), 2),
                num(m["server_us"], 1), num(m["lost"], 0)))
    widths = [max(len(row[i]) for row in table if len(row) > i and len(row) == len(head)) for i in range(len(head))]
    for row in table:
        if len(row) != len(head):
            print("  ".join(row))
            continue
        print("  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
    def knees(key, limit):
        out = []
        for client in sorted({r["client"] for r in srows}, key=lambda c: order.get(c, 9)):
            if all(m[key] is None for (o, c), m in fig.items() if c == client):
                continue
            ok = [o for (o, c), m in fig.items() if c == client and m[key] is not None and m[key] <= limit]
            top = max(o for (o, c) in fig if c == client)
            k = "none" if not ok else rate_label(max(ok)) + (" (the sweep's top: extend RATES)" if max(ok) == top else "")
            out.append(f"{client} {k}")
        return "; ".join(out)

    print(f"knee (highest offered msg/s with p99 <= {knee_ms:g} ms): " + knees("p99_ms", knee_ms))
    print("knee by send delay (highest offered msg/s with send-delay p99 <= 1 ms): " + knees("sd_p99_ms", 1.0))
print("\n# messages are echoes (one send + one receive); CPU is user + system over the steady window;"
      " p50/p99 are corrected (from the intended send time) except tcpkali's (from the actual write,"
      " whole run incl. ramp, 0.1 ms steps); 'p99 from write' is every client's p99 from the actual"
      " write, the figure to compare with tcpkali's")
PY
}

# sitting RESULTS PREFIX LOADS CLIENT... : each server (REF_SERVER if set, then `wsload serve`)
# started fresh on SERVER_CPU, then RUNS rounds of every load in LOADS (msg/s per connection, or
# "flood") by every CLIENT, one after another; each run's figures as a JSON line into RESULTS
sitting() {
    local results=$1 prefix=$2 loads=$3
    shift 3
    local clients=("$@") servers=(wsload) server load client i name label
    [[ -z "$REF_SERVER" ]] || servers=(ref wsload)
    : >"$results"
    for server in "${servers[@]}"; do
        label=$([[ "$server" == ref ]] && basename "${REF_SERVER%% *}" || echo "wsload serve")
        start_named "$server"
        for i in $(seq "$RUNS"); do
            for load in $loads; do
                for client in "${clients[@]}"; do
                    # tcpkali's flood does not end against a server that pushes back instead of dropping
                    # (100 connections at -T 3s ran 36 s; 2,000 outlived the watchdog): only against REF_SERVER.
                    [[ "$load" == flood && "$client" == tcpkali && "$server" == wsload ]] && continue
                    kill -0 "$SERVER_PID" 2>/dev/null || { echo "# $label died; restarting it" >&2; start_named "$server"; }
                    name="$prefix-$server-$load-$client-$i"
                    if [[ "$client" == tcpkali ]]; then wait_ports 1000; else wait_ports; fi
                    "client_$client" "$load" "$name"
                    record "$client" "$label" "$load" "$i" "$name" | tee -a "$results" >&2
                    sleep "$SETTLE"
                done
            done
        done
        stop_server
    done
}

# sweep : the rate sweep of issue 14, one sitting
sweep() {
    DURATION=${DURATION_SET:-15s}
    local rates=${RATES:-1 2 3 4 5}
    local results=${SWEEP_OUT:-$WORK/sweep.jsonl}
    local clients=(floor wsload)
    [[ -z "$TCPKALI" ]] || clients=(tcpkali floor wsload) # tcpkali first: the others leave fewer TIME_WAIT ports
    echo "# sweep: $CONNS connections x {$rates} msg/s, 64 B binary, open loop, $DURATION steady, $RUNS run(s);" \
        "client CPU $CLIENT_CPU, server CPU $SERVER_CPU; $(date -u +%FT%TZ); load average $(cut -d' ' -f1-3 /proc/loadavg)"
    # The floor under every tail below: how late this machine wakes a sleeping thread (wsload doctor).
    echo "# $(taskset -c "$CLIENT_CPU" "$BIN" doctor -c 1 --external-server | grep '^timer wake-up' | sed 's/  \+/: /; s/  .*//')"
    sitting "$results" sw "$rates" "${clients[@]}"
    sweep_table "$results"
    echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
}

# flood : each client at full speed against each server, one sitting (the issue-14 flood figure)
flood() {
    DURATION=${DURATION_SET:-10s}
    local results=${SWEEP_OUT:-$WORK/flood.jsonl}
    local clients=(wsload)
    [[ -z "$TCPKALI" ]] || clients=(tcpkali wsload)
    echo "# flood: $CONNS connections, 64 B binary, $DURATION, $RUNS run(s); tcpkali unthrottled, wsload" \
        "--in-flight $FLOOD_IN_FLIGHT; client CPU $CLIENT_CPU, server CPU $SERVER_CPU; $(date -u +%FT%TZ)"
    sitting "$results" fl flood "${clients[@]}"
    python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
print(f"{'server':<14}{'client':<9}{'recv msgs/s':>14}{'cores':>7}{'CPU s/1M':>10}{'lost':>6}  runs (recv msgs/s)")
for server in dict.fromkeys(r["server"] for r in rows):
    for client in dict.fromkeys(r["client"] for r in rows):
        runs = [r for r in rows if r["server"] == server and r["client"] == client]
        if not runs:
            continue
        ok = [r for r in runs if "error" not in r]
        if not ok:
            print(f"{server:<14}{client:<9}failed: {runs[0]['error'][:100]}")
            continue
        med = lambda k: (statistics.median(v) if (v := [r[k] for r in ok if r.get(k) is not None]) else None)
        f = lambda v, d: "-" if v is None else f"{v:,.{d}f}"
        each = " ".join(f"{r['received_per_s'] / 1e6:.2f}M" for r in ok)
        print(f"{server:<14}{client:<9}{f(med('received_per_s'), 0):>14}{f(med('cores'), 2):>7}"
              f"{f(med('cpu_per_m'), 2):>10}{f(med('lost'), 0):>6}  {each}")
print("# tcpkali: received bytes / 66 (frames unchecked); wsload: echoes checked (sequence and payload)")
PY
}

# wait_marker FILE TEXT : until TEXT appears in FILE (at most 60 s)
wait_marker() {
    for _ in $(seq 1200); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.05; done
    return 1
}

# server_idle_rss N NAME : the server's VmRSS (bytes) while the floor holds N idle connections to it
server_idle_rss() {
    "$FLOOR" --addr "$ADDR" -c "$1" --rate 0 -d 3s --cpu "$CLIENT_CPU" >"$WORK/$2.out" 2>"$WORK/$2.err" &
    local pid=$!
    watchdog "$pid"
    wait_marker "$WORK/$2.err" "steady window starts" || true
    sleep 0.5
    awk '/VmRSS/ {print $2 * 1024}' "/proc/$SERVER_PID/status"
    wait "$pid" || true
}

# server_mode : each server's CPU per echo and memory per idle connection, driven by the floor.
# The servers take turns within each run (wsload, then the reference), so a sitting that slows
# down part-way weighs on both alike; the ratio line is the median of each run's own ratio.
server_mode() {
    DURATION=${DURATION_SET:-15s}
    local rates=${SERVER_RATES:-1 3}
    local servers=(wsload) server i rate small big
    [[ -z "$REF_SERVER" ]] || servers=(wsload ref)
    local rate_list=()
    read -r -a rate_list <<<"$rates"
    echo "# server cost: server on CPU $SERVER_CPU, the floor client on CPU $CLIENT_CPU, $CONNS connections, 64 B," \
        "$DURATION steady, $RUNS run(s), the servers in turn; load average $(cut -d' ' -f1-3 /proc/loadavg)"
    declare -A mem=()
    for i in $(seq "$RUNS"); do
        for server in "${servers[@]}"; do
            start_named "$server"
            small=$(server_idle_rss 100 "sv-$server-idle100-$i")
            big=$(server_idle_rss "$CONNS" "sv-$server-idle-$i")
            mem[$server]+="$(( (big - small) / (CONNS - 100) )) "
            for rate in "${rate_list[@]}"; do
                wait_ports
                client_floor "$rate" "sv-$server-$rate-$i"
                record floor "$server" "$rate" "$i" "sv-$server-$rate-$i" | tee "$WORK/sv-$server-$rate-$i.rec" >&2
                sleep "$SETTLE"
            done
            stop_server
        done
    done
    python3 - "$WORK" "$RUNS" "$CONNS" "$(basename "${REF_SERVER%% *}")" "$rates" "${servers[@]}" <<'PY'
import json, statistics, sys
work, runs, conns, ref_name, rates, servers = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5].split(), sys.argv[6:]
label = {"wsload": "wsload serve", "ref": ref_name}
def us(server, rate, i):
    try:
        return json.load(open(f"{work}/sv-{server}-{rate}-{i}.rec")).get("server_us")
    except (OSError, ValueError):
        return None
def line(name, unit, vals):
    if not vals:
        print(f"{name:<48} no data"); return
    fmt = (lambda v: f"{v:,.0f}") if max(vals) >= 100 else (lambda v: f"{v:.3f}")
    print(f"{name:<48} {fmt(statistics.median(vals)):>12} {unit:<14} (min {fmt(min(vals))}, max {fmt(max(vals))}, n={len(vals)})")
for rate in rates:
    k = f"{float(rate) * conns / 1000:g}k"
    for s in servers:
        line(f"{label[s]}: CPU per echo at {k} msg/s", "us", [v for i in range(1, runs + 1) if (v := us(s, rate, i))])
    if "ref" in servers:
        pairs = [(a, b) for i in range(1, runs + 1) if (a := us("wsload", rate, i)) and (b := us("ref", rate, i))]
        line(f"wsload serve / {ref_name} at {k} msg/s, per run", "x", [a / b for a, b in pairs])
PY
    for server in "${servers[@]}"; do
        local m=()
        read -r -a m <<<"${mem[$server]}"
        stats "$([[ "$server" == ref ]] && basename "${REF_SERVER%% *}" || echo "wsload serve"): memory per idle connection" "B" "${m[@]}"
    done
}

# soak_mode : the client's VmRSS through a long open-loop run (see the top of this file)
soak_mode() {
    DURATION=${DURATION_SET:-10m}
    local every=${SOAK_EVERY:-10} rate=${SOAK_RATE:-1} pid t0 rss
    start_server
    echo "# soak: $CONNS connections x $rate msg/s, 64 B, $DURATION; client CPU $CLIENT_CPU, server CPU $SERVER_CPU;" \
        "$(date -u +%FT%TZ); load average $(cut -d' ' -f1-3 /proc/loadavg)"
    taskset -c "$CLIENT_CPU" "$BIN" run "ws://$ADDR/" --cores "$CLIENT_CPU" -c "$CONNS" --rate "$rate" --size 64 \
        -d "$DURATION" -q --json --out "$WORK/soak" "$@" >"$WORK/soak.json" 2>"$WORK/soak.err" &
    pid=$!
    t0=$(date +%s.%N)
    watchdog "$pid"
    : >"$WORK/soak.rss"
    while sleep "$every"; do
        rss=$(awk '/^(VmRSS|RssAnon):/ {printf "%d ", $2 * 1024}' "/proc/$pid/status" 2>/dev/null) || break
        [[ -n "$rss" ]] || break
        echo "$(python3 -c 'import sys, time; print(f"{time.time() - float(sys.argv[1]):.1f}")' "$t0") $rss" >>"$WORK/soak.rss"
    done
    wait "$pid" || true
    python3 - "$WORK/soak.rss" "$WORK/soak.json" "$(secs "$DURATION")" <<'PY'
import json, sys
samples = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if l.strip()]
end = float(sys.argv[3])
try:
    s = json.load(open(sys.argv[2]))
    m = s["messages"]
    print(f"# messages sent {m['sent']:,}, received {m['received']:,}, lost {m['lost']:,}; "
          f"connections established {s['connections']['established']:,}; peak RSS {s['client']['peak_rss_bytes'] / 1e6:.1f} MB")
except (OSError, ValueError, KeyError) as e:
    print(f"# no summary: {e}")
for t, rss, anon in samples:
    print(f"{t:8.1f} s  VmRSS {rss / 1e6:8.3f} MB  RssAnon {anon / 1e6:8.3f} MB")
# From minute 1 to the end of the traffic (the drain after it frees memory).
window = [x for x in samples if 60 - 5 <= x[0] <= end + 1]
if len(window) < 2:
    print("# too few samples after minute 1"); sys.exit()
n = len(window)
mt = sum(x[0] for x in window) / n
for name, col in (("VmRSS", 1), ("RssAnon", 2)):
    (t1, r1), (t2, r2) = (window[0][0], window[0][col]), (window[-1][0], window[-1][col])
    # The slope of the running peak: an allocator that hands memory back for a while (dips of a
    # few MB) does not hide growth, nor fake it.
    peak, top = [], 0.0
    for x in window:
        top = max(top, x[col])
        peak.append(top)
    mp = sum(peak) / n
    slope = sum((x[0] - mt) * (p - mp) for x, p in zip(window, peak)) / sum((x[0] - mt) ** 2 for x in window)
    print(f"# {name} {r1 / 1e6:.3f} MB at {t1:.0f} s, {r2 / 1e6:.3f} MB at {t2:.0f} s: {(r2 - r1) / 1e3:+.0f} KB "
          f"(low {min(x[col] for x in window) / 1e6:.3f} MB, peak {top / 1e6:.3f} MB); slope of the peak "
          f"{slope:+.0f} B/s ({slope * 3600 / 1e6:+.2f} MB per hour) over {n} samples")
PY
}

if [[ "${1:-}" == "soak" ]]; then
    soak_mode "${@:2}"
    exit 0
fi
if [[ "${1:-}" == "sweep" ]]; then
    sweep
    exit 0
fi
if [[ "${1:-}" == "flood" ]]; then
    flood
    exit 0
fi
if [[ "${1:-}" == "server" ]]; then
    server_mode
    exit 0
fi

start_server
URL="ws://$ADDR/"
CLIENT_ARGS=()
echo "# wsload benchmarks: client CPU $CLIENT_CPU, server CPU $SERVER_CPU ($URL), $CONNS connections, 64 B, $RUNS runs"

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
