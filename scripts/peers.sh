#!/usr/bin/env bash
# Build the two peers that scripts/bench.sh (sweep, flood, server) compares wsload with, from
# their public sources, outside the repository: tcpkali (the other client, TCPKALI=) and
# uws-echo (the common reference server, REF_SERVER=: benches/peers/uws-echo.cpp on
# uWebSockets and uSockets, no SSL, no zlib, no libuv).
#
#   scripts/peers.sh                          # build into ~/.cache/wsload-peers, print the exports
#   PEERS_DIR=/opt/wsload-peers scripts/peers.sh
#   eval "$(scripts/peers.sh)"                # build, and export both in this shell
#   TCPKALI_SRC=/srv/git/tcpkali UWS_SRC=/srv/git/uWebSockets USOCKETS_SRC=/srv/git/uSockets \
#     scripts/peers.sh                        # offline: clone from these repositories instead
#
# Only the two `export TCPKALI=... REF_SERVER=...` lines go to stdout; progress goes to stderr
# and each build step's output to PEERS_DIR/log/STEP.log (a failure names its step and shows
# the end of that log).
#
#  - Build tools: git, make, gcc, g++ (C++20), autoconf, automake, libtool, bison, flex and
#    pkg-config. When one is missing: installed with apt-get when this runs as root, otherwise
#    it prints the apt-get command to run and stops.
#  - Sources, in PEERS_DIR/src: https://github.com/satori-com/tcpkali,
#    https://github.com/uNetworking/uWebSockets and https://github.com/uNetworking/uSockets (in
#    uWebSockets/uSockets, at the commit uWebSockets pins when that can be fetched), each a
#    `git clone --depth 1`, or from TCPKALI_SRC, UWS_SRC, USOCKETS_SRC (a path, bare or not,
#    or a URL). A checkout already there is reused as it is: delete it to fetch again.
#  - tcpkali: its #include <sys/sysctl.h> (gone from glibc >= 2.32) is put under
#    #ifndef __linux__, then autoreconf -iv && ./configure && make.
#  - uws-echo: make -C uSockets WITH_OPENSSL=0, then g++ -std=c++20 -O3 -flto.
#  - Whatever is up to date (each binary newer than all its sources) is not built again; a
#    run that builds nothing just prints the exports.
#  - After a build (or until one has passed), a smoke check: tcpkali --version, then uws-echo
#    on 127.0.0.1:19911 and a 1 s tcpkali --ws run against it (100 msg/s) that must get
#    echoes back; then that uws-echo is stopped.
#
# Environment: PEERS_DIR (default ~/.cache/wsload-peers; refused inside the repository),
# TCPKALI_SRC, UWS_SRC, USOCKETS_SRC (above), JOBS (tcpkali's make -j, default 1), CXX (g++).
set -euo pipefail

usage() { awk 'NR == 1 { next } /^#/ { sub(/^# ?/, ""); print; next } { exit }' "$0"; }

case "${1:-}" in
  -h | --help) usage; exit 0 ;;
  "") ;;
  *) echo "peers.sh: unknown argument: $1 (see scripts/peers.sh --help)" >&2; exit 2 ;;
esac

die() { echo "peers.sh: $*" >&2; exit 1; }
say() { echo "peers.sh: $*" >&2; }

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
peers=$(realpath -m -- "${PEERS_DIR:-${HOME:?HOME is not set: set PEERS_DIR}/.cache/wsload-peers}")
if [[ $peers == "$repo" || $peers == "$repo"/* ]]; then
  die "PEERS_DIR ($peers) is inside the repository ($repo): the peers are built outside it; choose another PEERS_DIR"
fi
jobs=${JOBS:-1}
cxx=${CXX:-g++}
src=$peers/src bin=$peers/bin log=$peers/log
tk=$src/tcpkali uws=$src/uWebSockets us=$src/uWebSockets/uSockets
echo_src=$repo/benches/peers/uws-echo.cpp
[[ -f $echo_src ]] || die "$echo_src is missing"

# --- 1. build tools -----------------------------------------------------------------------
# command, Debian package
needs=(git:git make:make gcc:gcc g++:g++ autoconf:autoconf automake:automake libtoolize:libtool
  bison:bison flex:flex pkg-config:pkg-config)
missing=() pkgs=()
for n in "${needs[@]}"; do
  command -v "${n%%:*}" >/dev/null || { missing+=("${n%%:*}"); pkgs+=("${n#*:}"); }
done
if ((${#missing[@]})); then
  if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
    say "installing ${pkgs[*]} (for ${missing[*]})"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2 || die "build tools: apt-get update failed"
    apt-get install -y --no-install-recommends "${pkgs[@]}" >&2 ||
      die "build tools: apt-get install ${pkgs[*]} failed"
  elif command -v apt-get >/dev/null; then
    die "build tools: missing ${missing[*]}; install them with:
  sudo apt-get update && sudo apt-get install -y --no-install-recommends ${pkgs[*]}"
  else
    die "build tools: missing ${missing[*]} (Debian packages: ${pkgs[*]}); install them and run this again"
  fi
fi
echo 'int main() { return 0; }' | "$cxx" -std=c++20 -x c++ -fsyntax-only - 2>/dev/null ||
  die "build tools: $cxx does not compile C++20 (-std=c++20); uWebSockets needs it (g++ >= 10)"

mkdir -p "$src" "$bin" "$log"

# run STEP DIR COMMAND...: COMMAND run in DIR, its output in $log/STEP.log (a / in STEP becomes
# a -); on failure, names the step and shows the end of that log.
run() {
  local step=$1 dir=$2 file rc=0
  shift 2
  file=$log/${step//[\/ ]/-}.log
  say "$step ..."
  (cd "$dir" && "$@") >"$file" 2>&1 || rc=$?
  if ((rc)); then
    echo "peers.sh: $step failed (exit $rc): $*" >&2
    echo "peers.sh: the end of $file:" >&2
    tail -n 30 "$file" | sed 's/^/  | /' >&2
    exit 1
  fi
}

# stale BINARY PATH...: true if BINARY is missing or any file under PATH... is newer than it
stale() {
  local target=$1
  shift
  [[ -f $target ]] || return 0
  [[ -n $(find "$@" -name .git -prune -o -type f -newer "$target" -print -quit) ]]
}

# checkout NAME SOURCE DEST: a shallow clone of SOURCE (a path or URL) into DEST, unless DEST
# is already a checkout (then reused as it is). Sets cloned=1 if it cloned, 0 if it reused.
checkout() {
  local name=$1 from=$2 dest=$3 url tmp b
  cloned=0
  if [[ -e $dest/.git ]] && git -C "$dest" rev-parse -q --verify HEAD >/dev/null; then
    say "$name: reusing $dest ($(git -C "$dest" log -1 --format='%h %cs'))"
    return 0
  fi
  if [[ -e $dest ]] && [[ -n $(ls -A "$dest") ]]; then
    die "$name: $dest exists but is not a git checkout; remove it and run this again"
  fi
  url=$from
  # a local directory as file://, so that --depth applies (git ignores it for plain paths)
  [[ -d $from ]] && url=file://$(cd "$from" && pwd -P)
  tmp=$src/.$name.part
  rm -rf "$tmp"
  run "$name/clone" "$src" git clone --depth 1 "$url" "$tmp"
  if ! git -C "$tmp" rev-parse -q --verify HEAD >/dev/null; then
    # the source's HEAD names no branch (e.g. a mirror without a default branch): try main, master
    for b in main master ""; do
      [[ -n $b ]] || die "$name: $from has no default branch, and neither main nor master"
      git -C "$tmp" fetch -q --depth 1 origin "+refs/heads/$b:refs/remotes/origin/$b" 2>/dev/null &&
        git -C "$tmp" checkout -q -B "$b" "origin/$b" && break
    done
    say "$name: $from has no default branch; took its $b"
  fi
  [[ ! -e $dest ]] || rmdir "$dest"
  mv "$tmp" "$dest"
  cloned=1
  say "$name: cloned $from ($(git -C "$dest" log -1 --format='%h %cs'))"
}

# --- 2. sources ---------------------------------------------------------------------------
checkout tcpkali "${TCPKALI_SRC:-https://github.com/satori-com/tcpkali}" "$tk"
checkout uWebSockets "${UWS_SRC:-https://github.com/uNetworking/uWebSockets}" "$uws"
checkout uSockets "${USOCKETS_SRC:-https://github.com/uNetworking/uSockets}" "$us"
if ((cloned)); then
  # uWebSockets and uSockets change together: take the uSockets commit uWebSockets pins
  pin=$(git -C "$uws" ls-tree HEAD uSockets | awk '$2 == "commit" { print $3 }')
  have=$(git -C "$us" rev-parse HEAD)
  if [[ -n $pin && $pin != "$have" ]]; then
    if git -C "$us" fetch -q --depth 1 origin "$pin" 2>/dev/null && git -C "$us" checkout -q "$pin"; then
      say "uSockets: checked out $pin, the commit uWebSockets pins"
    else
      say "warning: uSockets: cannot fetch $pin, the commit uWebSockets pins; building ${have:0:12} instead"
    fi
  fi
fi

built=()

# --- 3. tcpkali ---------------------------------------------------------------------------
limits=$tk/src/tcpkali_syslimits.c
[[ -f $limits ]] || die "tcpkali: $limits is missing: is $tk a tcpkali checkout?"
# how many of its #include <sys/sysctl.h> are not yet right under an #if... __linux__
unguarded=$(awk '/^#include <sys\/sysctl.h>/ && prev !~ /^#if.*__linux__/ { n++ } { prev = $0 }
  END { print n + 0 }' "$limits")
if ((unguarded)); then
  sed -i 's|^#include <sys/sysctl.h>$|#ifndef __linux__\n&\n#endif|' "$limits"
  say "tcpkali: put #include <sys/sysctl.h> under #ifndef __linux__ in src/tcpkali_syslimits.c"
fi
if stale "$bin/tcpkali" "$tk"; then
  if [[ ! -f $tk/config.status || ! -f $tk/Makefile ]]; then
    run tcpkali/autoreconf "$tk" autoreconf -iv
    run tcpkali/configure "$tk" ./configure
  fi
  run tcpkali/make "$tk" make -j"$jobs"
  [[ -x $tk/src/tcpkali ]] || die "tcpkali/make: it made no $tk/src/tcpkali"
  install -m 755 "$tk/src/tcpkali" "$bin/tcpkali"
  built+=(tcpkali)
fi

# --- 4. uws-echo --------------------------------------------------------------------------
[[ -f $uws/src/App.h ]] || die "uws-echo: $uws/src/App.h is missing: is $uws a uWebSockets checkout?"
[[ -f $us/src/libusockets.h ]] || die "uws-echo: $us/src/libusockets.h is missing: is $us a uSockets checkout?"
if stale "$us/uSockets.a" "$us/src"; then
  # every other optional backend off explicitly, whatever the environment says
  run uSockets/make "$us" make WITH_OPENSSL=0 WITH_BORINGSSL=0 WITH_WOLFSSL=0 WITH_LIBUV=0 \
    WITH_IO_URING=0 WITH_ASIO=0 WITH_GCD=0 WITH_QUIC=0 WITH_ASAN=0
  [[ -f $us/uSockets.a ]] || die "uSockets/make: it made no $us/uSockets.a"
fi
if stale "$bin/uws-echo" "$echo_src" "$uws/src" "$us/src" "$us/uSockets.a"; then
  objs=("$us"/*.o)
  [[ -f ${objs[0]} ]] || die "uws-echo: no object files in $us (rm $us/uSockets.a and run this again)"
  run uws-echo/link "$peers" "$cxx" -std=c++20 -O3 -flto -DUWS_NO_ZLIB -DLIBUS_NO_SSL \
    -I "$uws/src" -I "$us/src" "$echo_src" "${objs[@]}" -o "$bin/uws-echo.part"
  mv "$bin/uws-echo.part" "$bin/uws-echo"
  built+=(uws-echo)
fi

# --- 5. smoke check -----------------------------------------------------------------------
# after a build, and until one has passed with these binaries ($log/smoke.ok newer than both)
if ((${#built[@]})) || stale "$log/smoke.ok" "$bin/tcpkali" "$bin/uws-echo"; then
  rm -f "$log/smoke.ok"
  port=19911
  "$bin/tcpkali" --version >"$log/smoke-version.log" 2>&1 ||
    die "smoke: $bin/tcpkali --version failed: $(head -n 5 "$log/smoke-version.log")"
  "$bin/uws-echo" "$port" >"$log/smoke-uws-echo.log" 2>&1 &
  echo_pid=$!
  trap 'kill "$echo_pid" 2>/dev/null || true' EXIT
  for ((i = 0; ; i++)); do
    grep -q "^listening on 127.0.0.1:$port" "$log/smoke-uws-echo.log" && break
    kill -0 "$echo_pid" 2>/dev/null ||
      die "smoke: uws-echo $port exited before listening (is port $port in use?): $(cat "$log/smoke-uws-echo.log")"
    ((i < 50)) || die "smoke: uws-echo $port did not say it was listening within 5 s"
    sleep 0.1
  done
  rc=0
  timeout 20 "$bin/tcpkali" --ws -c 1 -T 1 -r 100 -m hello "127.0.0.1:$port" \
    >"$log/smoke-tcpkali.log" 2>&1 || rc=$?
  received=$(sed -n 's/^Total data received:.*(\([0-9]*\) bytes).*/\1/p' "$log/smoke-tcpkali.log")
  if ((rc)) || [[ -z $received ]] || ((received == 0)); then
    echo "peers.sh: smoke: tcpkali --ws against uws-echo $port (exit $rc) received ${received:-no} data;" \
      "its output:" >&2
    sed 's/^/  | /' "$log/smoke-tcpkali.log" >&2
    exit 1
  fi
  kill "$echo_pid" 2>/dev/null || true
  wait "$echo_pid" 2>/dev/null || true
  trap - EXIT
  touch "$log/smoke.ok"
  say "smoke: $("$bin/tcpkali" --version 2>&1 | head -n 1); received $received bytes of echoes from uws-echo"
  if ((${#built[@]})); then say "built ${built[*]} in $bin"; fi
else
  say "tcpkali and uws-echo are up to date in $bin"
fi

printf 'export TCPKALI=%q\n' "$bin/tcpkali"
printf 'export REF_SERVER=%q\n' "$bin/uws-echo"
