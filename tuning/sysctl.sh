#!/usr/bin/env bash
# Kernel settings a wsload run of N connections needs, as formulas in N.
#
# Dry run by default: prints, for each setting, the current value, the needed
# value with its formula, and the command (commented out when nothing needs
# to change). The output is itself a shell script. --apply runs the commands
# (as root); a setting is only ever raised, never lowered.
#
#   tuning/sysctl.sh --connections 100000
#   tuning/sysctl.sh --connections 100000 --source-ips 4 --apply
#
# Settings written with sysctl -w last until reboot; to keep them, put the
# printed key = value lines in /etc/sysctl.d/90-wsload.conf.
#
# WSLOAD_SYSCTL_ROOT (default /proc/sys) lets the tests point the script at a
# fake tree; with it set, --apply writes the files there instead of calling sysctl.

set -u

root=${WSLOAD_SYSCTL_ROOT:-/proc/sys}

# Figures shared with src/sys/limits.rs and tuning/ulimit.sh.
FD_BASE=64
FD_PER_EXECUTOR=8
WIDE_LOW=1024 # the widest port range that leaves the well-known ports alone
WIDE_HIGH=65535

usage() {
	cat <<'EOF'
usage: tuning/sysctl.sh --connections N [--source-ips S] [--executors E]
                        [--with-server] [--apply]

  --connections N   connections the run opens to one destination (required)
  --source-ips S    source addresses the client spreads them over; default 1
  --executors E     io_uring executors per process; default: nproc
  --with-server     the built-in server runs in the client's process (2·N fds there)
  --apply           write the needed values (root); never lowers a setting
EOF
}

connections="" source_ips=1 executors="" with_server=0 apply=0
while (($# > 0)); do
	case $1 in
	--connections | --source-ips | --executors)
		if (($# < 2)); then
			echo "sysctl.sh: $1 needs a value" >&2
			exit 2
		fi
		case $1 in
		--connections) connections=$2 ;;
		--source-ips) source_ips=$2 ;;
		--executors) executors=$2 ;;
		esac
		shift 2
		;;
	--with-server) with_server=1; shift ;;
	--apply) apply=1; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "sysctl.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
done
is_number() { [[ $1 =~ ^[0-9]+$ ]]; }
if [[ -z $executors ]]; then
	executors=$(nproc 2>/dev/null || echo 1)
fi
if ! is_number "$connections" || ((10#$connections == 0)); then
	echo "sysctl.sh: --connections N is required, a whole number above 0 (got '$connections')" >&2
	exit 2
fi
if ! is_number "$source_ips" || ((10#$source_ips == 0)) || ! is_number "$executors"; then
	echo "sysctl.sh: --source-ips takes a whole number above 0 and --executors a whole number" \
		"(got '$source_ips', '$executors')" >&2
	exit 2
fi
n=$((10#$connections))
s=$((10#$source_ips))
e=$((10#$executors))

# Current value of a key ("net.core.somaxconn" → /proc/sys/net/core/somaxconn),
# whitespace squeezed; empty if the key does not exist here.
current() {
	local file="$root/${1//.//}"
	[[ -r $file ]] || return 1
	tr -s ' \t\n' '  ' <"$file" | sed 's/ $//'
}

changes=() # "key=value" pairs the run needs
failed=0

# Report one single-number setting. $1 key, $2 needed, $3 formula, $4 why.
check() {
	local key=$1 need=$2 formula=$3 why=$4 cur
	echo "# $key: $why"
	if ! cur=$(current "$key"); then
		echo "#   not present on this kernel: skipped"
		echo
		return
	fi
	if is_number "$cur" && ((cur >= need)); then
		echo "#   current $cur, needed $formula = $need: ok"
		echo "# sysctl -w $key=$need"
	else
		echo "#   current $cur, needed $formula = $need: raise"
		echo "sysctl -w $key=$need"
		changes+=("$key=$need")
	fi
	echo
}

echo "# wsload kernel settings for N=$n connections from S=$s source address(es), E=$e executors"
echo "# (dry run unless --apply; lines without # are the commands to run as root)"
echo

# Ephemeral ports: connect() to one destination address and port can use each
# local port once per source address.
per_source=$(((n + s - 1) / s))
key=net.ipv4.ip_local_port_range
echo "# $key: ports connect() picks from; each source address offers high-low+1 of them"
if range=$(current "$key") && [[ $range =~ ^([0-9]+)\ ([0-9]+)$ ]]; then
	low=${BASH_REMATCH[1]} high=${BASH_REMATCH[2]}
	have=$((high - low + 1))
	if ((have >= per_source)); then
		echo "#   current \"$range\" ($have ports), needed ⌈N/S⌉ = $per_source ports: ok"
		echo "# sysctl -w $key=\"$range\""
	else
		# Keep the high end if that leaves the well-known ports alone, else use
		# the widest range.
		if ((high - per_source + 1 >= WIDE_LOW)); then
			new_low=$((high - per_source + 1)) new_high=$high
		else
			new_low=$WIDE_LOW new_high=$WIDE_HIGH
		fi
		echo "#   current \"$range\" ($have ports), needed ⌈N/S⌉ = $per_source ports: too few"
		if ((per_source > WIDE_HIGH - WIDE_LOW + 1)); then
			wide=$((WIDE_HIGH - WIDE_LOW + 1))
			echo "#   even $WIDE_LOW-$WIDE_HIGH has only $wide ports per address:" \
				"use at least ⌈N/$wide⌉ = $(((n + wide - 1) / wide)) source addresses (--source-ips, wsload --source-ip)"
		fi
		if ((new_low == low && new_high == high)); then
			echo "# sysctl -w $key=\"$new_low $new_high\"   # already the widest"
		else
			echo "sysctl -w $key=\"$new_low $new_high\""
			changes+=("$key=$new_low $new_high")
		fi
	fi
else
	echo "#   not readable on this kernel: skipped"
fi
echo

cap=$((n < 65535 ? n : 65535))
check net.core.somaxconn "$cap" "min(N, 65535)" \
	"accept queue of a listening socket; a burst of N connects overflows a short one (SYN retries, 1 s stalls)"
check net.ipv4.tcp_max_syn_backlog "$cap" "min(N, 65535)" \
	"half-open connections queued per listener during the connect burst"

file_max=$((2 * n + 65536))
check fs.file-max "$file_max" "2·N + 65536" \
	"open files system-wide: both ends of every connection on this host, plus the rest of the system"

per_process=$(((with_server ? 2 * n : n) + FD_BASE + FD_PER_EXECUTOR * e))
formula="N + $FD_BASE + $FD_PER_EXECUTOR·E"
((with_server)) && formula="2·N + $FD_BASE + $FD_PER_EXECUTOR·E"
check fs.nr_open "$per_process" "$formula" \
	"ceiling for any process's open-files hard limit (then raise it: tuning/ulimit.sh)"

key=net.ipv4.tcp_tw_reuse
echo "# $key: reuse ports in TIME-WAIT for new outgoing connections, so reconnect waves do not run out of ports"
if ! cur=$(current "$key"); then
	echo "#   not present on this kernel: skipped"
elif [[ $cur == 1 ]]; then
	echo "#   current 1, needed 1: ok"
	echo "# sysctl -w $key=1"
else
	note=""
	[[ $cur == 2 ]] && note=" (the default: covers loopback targets only)"
	echo "#   current $cur$note, needed 1: change"
	echo "sysctl -w $key=1"
	changes+=("$key=1")
fi
echo

conntrack=$((2 * n))
check net.netfilter.nf_conntrack_max "$conntrack" "2·N" \
	"connection tracking table: one entry per connection, as many again lingering after closes; when full, new connections are dropped"

if ((${#changes[@]} == 0)); then
	echo "# nothing to change"
	exit 0
fi
echo "# to keep across reboots, put these lines in /etc/sysctl.d/90-wsload.conf:"
for c in "${changes[@]}"; do
	echo "#   ${c%%=*} = ${c#*=}"
done

if ((!apply)); then
	echo "# dry run: nothing changed; add --apply to write these (as root)"
	exit 0
fi
echo
echo "# applying:"
for c in "${changes[@]}"; do
	key=${c%%=*} value=${c#*=}
	if [[ -n ${WSLOAD_SYSCTL_ROOT:-} ]]; then
		if printf '%s\n' "$value" >"$root/${key//.//}"; then
			echo "#   wrote $key = $value"
		else
			failed=1
		fi
	elif sysctl -w "$key=$value"; then
		:
	else
		echo "sysctl.sh: could not set $key = $value (are you root? in a container, the host may have to set it)" >&2
		failed=1
	fi
done
exit "$failed"
