#!/usr/bin/env bash
# Read-only preflight for a wsload run of N connections: the same checks as
# `wsload doctor`, for a host where wsload is not installed (the server host,
# typically). Changes nothing; prints a table and a verdict.
#
#   tuning/check.sh --connections 10000                  # client and built-in server here
#   tuning/check.sh --connections 100000 --role server   # on the server host
#   tuning/check.sh --connections 100000 --role client --source-ips 4
#
# Exit status: 0 nothing fails (warnings allowed), 1 something fails, 2 bad arguments.
# WSLOAD_SYSCTL_ROOT (default /proc/sys) points the script at a fake tree for tests.

set -eu

root=${WSLOAD_SYSCTL_ROOT:-/proc/sys}

# Figures shared with src/sys/limits.rs and src/cmd/doctor.rs.
FD_BASE=64             # stdio, listeners, report files, /proc reads, channels
FD_PER_EXECUTOR=8      # three io_uring rings, an eventfd, timers, slack
SYSTEM_FILES=65536     # open files the rest of the system keeps (fs.file-max)
MAX_BACKLOG=65535

usage() {
	cat <<'EOF'
usage: tuning/check.sh --connections N [--role both|client|server]
                       [--source-ips S] [--executors E]

  --connections N   connections of the run (required)
  --role R          both: wsload and its built-in server on this host (default);
                    client: wsload here, the server elsewhere;
                    server: only the server here (no ephemeral ports needed)
  --source-ips S    source addresses the client binds (--source-ip); default 1
  --executors E     io_uring executors (pinned cores) of the process on this host;
                    default: nproc-1 for both (one CPU is the server's), else nproc
EOF
}

connections="" role=both source_ips=1 executors=""
while [ $# -gt 0 ]; do
	case $1 in
	--connections | --role | --source-ips | --executors)
		if [ $# -lt 2 ]; then
			echo "check.sh: $1 needs a value" >&2
			exit 2
		fi
		case $1 in
		--connections) connections=$2 ;;
		--role) role=$2 ;;
		--source-ips) source_ips=$2 ;;
		--executors) executors=$2 ;;
		esac
		shift 2
		;;
	-h | --help)
		usage
		exit 0
		;;
	*)
		echo "check.sh: unknown argument '$1'" >&2
		usage >&2
		exit 2
		;;
	esac
done

is_number() { [[ $1 =~ ^[0-9]+$ ]]; }
if ! is_number "$connections" || ((10#$connections == 0)); then
	echo "check.sh: --connections N is required, a whole number above 0 (got '$connections')" >&2
	exit 2
fi
case $role in both | client | server) ;; *)
	echo "check.sh: --role is both, client or server (got '$role')" >&2
	exit 2
	;;
esac
if ! is_number "$source_ips" || ((10#$source_ips == 0)); then
	echo "check.sh: --source-ips takes a whole number above 0 (got '$source_ips')" >&2
	exit 2
fi
cpus=$(nproc 2>/dev/null || echo 1)
if [[ -z $executors ]]; then
	executors=$cpus
	[[ $role == both ]] && ((cpus > 1)) && executors=$((cpus - 1))
fi
if ! is_number "$executors" || ((10#$executors == 0)); then
	echo "check.sh: --executors takes a whole number above 0 (got '$executors')" >&2
	exit 2
fi
n=$((10#$connections))
s=$((10#$source_ips))
e=$((10#$executors))

# Value of a sysctl key ("net.core.somaxconn"), whitespace squeezed; fails if absent.
current() {
	local file="$root/${1//.//}"
	[[ -r $file ]] || return 1
	tr -s ' \t\n' '  ' <"$file" | sed 's/ $//'
}

fails=0 warns=0
notes=()
row() { # name current needed status fix
	printf '%-28s  %-34s  %-38s  %-6s  %s\n' "$1" "$2" "$3" "$4" "$5"
	case $4 in
	FAIL) fails=$((fails + 1)) ;;
	WARN) warns=$((warns + 1)) ;;
	esac
}
note() { notes+=("$1"); }

# A single-number sysctl that must be at least $2. $1 key, $3 formula,
# $4 status when short (FAIL or WARN), $5 why.
at_least() {
	local key=$1 need=$2 formula=$3 short=$4 why=$5 cur
	if ! cur=$(current "$key"); then
		row "$key" "absent" "$need ($formula)" ok "-"
	elif is_number "$cur" && ((cur >= need)); then
		row "$key" "$cur" "$need ($formula)" ok "-"
	else
		row "$key" "$cur" "$need ($formula)" "$short" "sysctl -w $key=$need"
		note "$short $key: $why"
	fi
}

echo "check.sh: N = $n connections, role $role, E = $e executor(s), S = $s source address(es)"
echo
printf '%-28s  %-34s  %-38s  %-6s  %s\n' CHECK CURRENT "NEEDED (formula in N)" STATUS FIX

# Open files per process. With the built-in server each of the two processes
# holds one end of every connection.
fd_need=$((n + FD_BASE + FD_PER_EXECUTOR * e))
fd_formula="N+$FD_BASE+$FD_PER_EXECUTOR·E"
soft=$(ulimit -Sn)
hard=$(ulimit -Hn)
if [[ $soft == unlimited ]] || ((soft >= fd_need)); then
	row "open files (soft)" "$soft" "$fd_need ($fd_formula)" ok "-"
elif [[ $hard == unlimited ]] || ((hard >= fd_need)); then
	row "open files (soft)" "$soft" "$fd_need ($fd_formula)" WARN "ulimit -Sn $fd_need"
	note "WARN open files (soft): wsload raises its soft limit to the hard limit itself; another server may not"
else
	row "open files (soft)" "$soft" "$fd_need ($fd_formula)" WARN "see open files (hard)"
fi
round=$(((fd_need + 999) / 1000 * 1000))
if [[ $hard == unlimited ]] || ((hard >= fd_need)); then
	row "open files (hard)" "$hard" "$fd_need ($fd_formula)" ok "-"
else
	row "open files (hard)" "$hard" "$fd_need ($fd_formula)" FAIL "ulimit -Hn $round (root)"
	per=$((hard - FD_BASE - FD_PER_EXECUTOR * e))
	split=""
	((per > 0)) && split=", or split the load over $(((n + per - 1) / per)) processes or hosts of at most $per connections each"
	note "FAIL open files (hard): one process cannot hold $n connections with a hard open-files limit of $hard: raise it as root with 'ulimit -Hn $round', 'prlimit --pid PID --nofile=$round:$round' or '* - nofile $round' in /etc/security/limits.conf (tuning/limits.conf)$split"
fi

# io_uring: every core of wsload (client, built-in server, proxy) runs one ring. Locked
# memory is not checked: the engine registers no buffers, and since Linux 5.12 rings are
# charged to the memory cgroup, not to RLIMIT_MEMLOCK.
# kernel.io_uring_disabled: 0 (or absent) anyone may create rings; 1 only CAP_SYS_ADMIN
# or members of kernel.io_uring_group; 2 nobody.
may_use_io_uring() { # for io_uring_disabled = 1
	local capeff gid
	capeff=$(awk '/^CapEff:/ {print $2}' /proc/self/status 2>/dev/null || true)
	[[ $capeff =~ ^[0-9a-fA-F]+$ ]] && (((16#$capeff >> 21) & 1)) && return 0 # CAP_SYS_ADMIN
	gid=$(current kernel.io_uring_group) || return 1
	is_number "$gid" && [[ " $(id -G 2>/dev/null) " == *" $gid "* ]]
}
uring_short=FAIL uring_who="wsload"
[[ $role == server ]] && uring_short=WARN uring_who="a wsload serve on this host"
if ! disabled=$(current kernel.io_uring_disabled); then
	row io_uring "io_uring_disabled absent" "0 (1 will do as root)" ok "-"
elif [[ $disabled == 0 ]] || { [[ $disabled == 1 ]] && may_use_io_uring; }; then
	row io_uring "io_uring_disabled = $disabled" "0 (1 will do as root)" ok "-"
else
	row io_uring "io_uring_disabled = $disabled" "0 (1 will do as root)" "$uring_short" \
		"sysctl -w kernel.io_uring_disabled=0"
	case $disabled in
	1) why="only root (CAP_SYS_ADMIN) or members of kernel.io_uring_group may create io_uring instances" ;;
	*) why="io_uring is disabled for every process" ;;
	esac
	note "$uring_short io_uring: $why, and $uring_who cannot start without one: sysctl -w kernel.io_uring_disabled=0 (tuning/apply.sh writes it to /etc/sysctl.d)"
fi

# Ephemeral ports: connections to one destination per source address.
if [[ $role != server ]]; then
	if range=$(current net.ipv4.ip_local_port_range) && [[ $range =~ ^([0-9]+)\ ([0-9]+)$ ]]; then
		low=${BASH_REMATCH[1]} high=${BASH_REMATCH[2]}
		ports=$((high - low + 1))
		need_addr=$(((n + ports - 1) / ports))
		if ((need_addr <= s)); then
			row "ephemeral ports" "$low-$high = $ports ports, $s addr" "$need_addr addr (⌈N/$ports⌉)" ok "-"
		else
			row "ephemeral ports" "$low-$high = $ports ports, $s addr" "$need_addr addr (⌈N/$ports⌉)" FAIL "$need_addr source addresses"
			note "FAIL ephemeral ports: $need_addr source addresses needed for $n connections to one destination ($ports ports per address): pass that many to wsload --source-ip, or widen net.ipv4.ip_local_port_range to \"1024 65535\" (64512 ports per address)"
		fi
	else
		row "ephemeral ports" "unreadable" "-" WARN "-"
	fi
fi

# The listener's queues, where the server runs.
if [[ $role != client ]]; then
	backlog=$((n < MAX_BACKLOG ? n : MAX_BACKLOG))
	at_least net.core.somaxconn "$backlog" "min(N, 65535)" WARN \
		"a short accept queue makes connects retry after 1 s and 3 s (connect latency, not failures)"
	at_least net.ipv4.tcp_max_syn_backlog "$backlog" "min(N, 65535)" WARN \
		"half-open connections beyond it are dropped and retried during the connect burst"
fi

ends=1 ends_formula="N+65536"
[[ $role == both ]] && ends=2 ends_formula="2·N+65536"
at_least fs.file-max $((ends * n + SYSTEM_FILES)) "$ends_formula" FAIL \
	"past the system-wide open-files limit every open fails with ENFILE"
at_least fs.nr_open "$fd_need" "$fd_formula" FAIL \
	"no process may hold more open files than fs.nr_open, whatever its hard limit"

if cur=$(current net.netfilter.nf_conntrack_max) || cur=$(current net.nf_conntrack_max); then
	if ((cur >= 2 * n)); then
		row nf_conntrack_max "$cur" "$((2 * n)) (2·N)" ok "-"
	else
		status=WARN
		((cur < n)) && status=FAIL
		row nf_conntrack_max "$cur" "$((2 * n)) (2·N)" "$status" "sysctl -w net.netfilter.nf_conntrack_max=$((2 * n))"
		note "$status nf_conntrack_max: when the connection-tracking table is full the kernel drops new connections"
	fi
else
	row nf_conntrack_max "not loaded" "- (2·N when loaded)" ok "-"
fi

if cur=$(current net.ipv4.tcp_tw_reuse); then
	if [[ $cur == 1 ]] || { [[ $cur == 2 ]] && [[ $role == both ]]; }; then
		row tcp_tw_reuse "$cur" "1 (2 will do on loopback)" ok "-"
	else
		row tcp_tw_reuse "$cur" "1 (2 will do on loopback)" WARN "sysctl -w net.ipv4.tcp_tw_reuse=1"
		note "WARN tcp_tw_reuse: ports of closed connections stay in TIME_WAIT for 60 s"
	fi
fi

cpu_need=$e cpu_formula="E"
[[ $role == both ]] && cpu_need=$((e + 1)) cpu_formula="E+1 server"
if ((cpus >= cpu_need)); then
	row CPUs "$cpus" "$cpu_need ($cpu_formula)" ok "-"
else
	row CPUs "$cpus" "$cpu_need ($cpu_formula)" WARN "fewer --cores"
	note "WARN CPUs: executors share CPUs and take turns: every figure then includes the other side's work"
fi

if ((${#notes[@]} > 0)); then
	echo
	printf '%s\n' "${notes[@]}"
fi
echo
if ((fails == 0)); then
	echo "verdict: this host can take $n connections ($warns warning(s) above)"
	exit 0
fi
echo "verdict: this host cannot take $n connections: $fails problem(s) above"
exit 1
