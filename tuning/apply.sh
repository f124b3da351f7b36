#!/usr/bin/env bash
# Write the kernel settings and per-process limits a wsload run of N
# connections needs, as files that survive a reboot:
#   /etc/sysctl.d/99-wsload.conf            (loaded at once with sysctl -p)
#   /etc/security/limits.d/99-wsload.conf   (takes effect at the next login)
#
#   tuning/apply.sh --connections 100000            # dry run: print current → new, write nothing
#   sudo tuning/apply.sh --connections 100000 --apply
#   sudo tuning/apply.sh --connections 100000 --source-ips 4 --apply
#   sudo tuning/apply.sh --revert                   # put back what was there before
#
# Dry run by default. --apply keeps a backup of each file it replaces and the
# sysctl values in force before (taken once, so applying twice is harmless),
# never lowers a value, and writes nothing when the files already say so.
# --revert restores the backups and the earlier sysctl values.
#
# The dry run also prints the commands that do the same for now only, without
# files: `sysctl -w` (until reboot) and `ulimit`/`prlimit` (for one shell or one
# command). A limit raised by a script that is run, not sourced, ends with it,
# which is why those are printed rather than run.
#
# WSLOAD_ETC (default /etc) and WSLOAD_SYSCTL_ROOT (default /proc/sys) point
# the script at a fake tree for tests; with WSLOAD_ETC set, sysctl is not run.

set -eu

etc=${WSLOAD_ETC:-/etc}
root=${WSLOAD_SYSCTL_ROOT:-/proc/sys}
sysctl_file=$etc/sysctl.d/99-wsload.conf
limits_file=$etc/security/limits.d/99-wsload.conf
before_file=$etc/sysctl.d/.99-wsload.before # sysctl values in force before --apply

# Figures shared with src/sys/limits.rs, src/cmd/doctor.rs and tuning/check.sh.
FD_BASE=64
FD_PER_EXECUTOR=8
SYSTEM_FILES=65536
MAX_BACKLOG=65535

usage() {
	cat <<'EOF'
usage: tuning/apply.sh --connections N [--executors E] [--source-ips S] [--apply]
       tuning/apply.sh --revert

  --connections N   connections of the run (required unless --revert)
  --executors E     io_uring executors per process; default: nproc
  --source-ips S    source addresses the client spreads its connections over
                    (wsload --source-ip); default 1
  --apply           write the files (root); without it, only print
  --revert          restore the files and sysctl values from before --apply (root)
EOF
}

connections="" executors="" source_ips=1 mode=dry
while [ $# -gt 0 ]; do
	case $1 in
	--connections | --executors | --source-ips)
		if [ $# -lt 2 ]; then
			echo "apply.sh: $1 needs a value" >&2
			exit 2
		fi
		case $1 in
		--connections) connections=$2 ;;
		--executors) executors=$2 ;;
		--source-ips) source_ips=$2 ;;
		esac
		shift 2
		;;
	--apply) mode=apply; shift ;;
	--revert) mode=revert; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "apply.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
done

uid=${WSLOAD_TEST_UID:-$(id -u)}
if [[ $mode != dry ]] && [[ $uid != 0 ]]; then
	echo "apply.sh: --$mode writes under $etc and runs sysctl, which needs root:" \
		"run it as 'sudo tuning/apply.sh ...'. Without --$mode it only prints what it would do." >&2
	exit 2
fi

# Value of a sysctl key, whitespace squeezed; fails if the key is absent.
current() {
	local file="$root/${1//.//}"
	[[ -r $file ]] || return 1
	tr -s ' \t\n' '  ' <"$file" | sed 's/ $//'
}

# Load a sysctl file unless we are pointed at a fake tree.
load() {
	if [[ -n ${WSLOAD_ETC:-} ]]; then
		echo "# (WSLOAD_ETC set: not running sysctl -p $1)"
	else
		sysctl -q -p "$1"
	fi
}

if [[ $mode == revert ]]; then
	did=0
	for f in "$sysctl_file" "$limits_file"; do
		if [[ -e $f.wsload-backup ]]; then
			mv -f "$f.wsload-backup" "$f"
			echo "restored $f from its backup"
			did=1
		elif [[ -e $f.wsload-none ]]; then
			rm -f "$f" "$f.wsload-none"
			echo "removed $f (there was none before)"
			did=1
		fi
	done
	if [[ -e $before_file ]]; then
		load "$before_file"
		rm -f "$before_file"
		echo "sysctl values from before --apply restored"
		did=1
	fi
	((did)) || echo "nothing to revert: no backup from apply.sh under $etc"
	exit 0
fi

is_number() { [[ $1 =~ ^[0-9]+$ ]]; }
[[ -n $executors ]] || executors=$(nproc 2>/dev/null || echo 1)
if ! is_number "$connections" || ((10#$connections == 0)) || ! is_number "$executors" ||
	! is_number "$source_ips" || ((10#$source_ips == 0)); then
	echo "apply.sh: --connections N is required, a whole number above 0; --executors takes a whole" \
		"number and --source-ips one above 0 (got '$connections', '$executors', '$source_ips')" >&2
	exit 2
fi
n=$((10#$connections))
e=$((10#$executors))
s=$((10#$source_ips))
fd=$((n + FD_BASE + FD_PER_EXECUTOR * e))
fd=$(((fd + 999) / 1000 * 1000)) # round figures in files people read
backlog=$((n < MAX_BACKLOG ? n : MAX_BACKLOG))

sysctl_text="# Written by wsload tuning/apply.sh for N = $n connections, E = $e executors.
# tuning/apply.sh --revert restores what was here before. Values are never lowered.
"
before_text="# sysctl values in force before tuning/apply.sh --apply (for --revert)
"
changes=0
now=() # "sysctl -w" commands that raise the same values until reboot

# Add "key = max(current, need)" to the sysctl file. $1 key, $2 need, $3 comment.
want() {
	local key=$1 need=$2 why=$3 cur value
	cur=$(current "$key") || {
		echo "  $key: absent on this kernel, skipped"
		return 0
	}
	value=$need
	if is_number "$cur" && ((cur > need)); then value=$cur; fi
	if [[ $cur == "$value" ]]; then
		echo "  $key: $cur (enough)"
	else
		echo "  $key: $cur → $value"
		changes=$((changes + 1))
		now+=("sysctl -w $key=$value")
	fi
	sysctl_text+="# $why
$key = $value
"
	before_text+="$key = $cur
"
}

echo "# wsload settings for N = $n connections, E = $e executors, S = $s source address(es) (mode: $mode)"
echo "# kernel ($sysctl_file):"
want fs.file-max $((2 * n + SYSTEM_FILES)) "open files system-wide: 2·N + 65536 (both ends of every connection on this host, plus the rest)"
want fs.nr_open "$fd" "ceiling for any process's open-files hard limit: N + 64 + 8·E, rounded up"
want net.core.somaxconn "$backlog" "accept queue of a listener: min(N, 65535); shorter queues make a connect burst retry after 1 s"
want net.ipv4.tcp_max_syn_backlog "$backlog" "half-open connections per listener during the connect burst: min(N, 65535)"
if cur=$(current net.ipv4.tcp_tw_reuse); then
	if [[ $cur == 1 ]]; then echo "  net.ipv4.tcp_tw_reuse: 1 (enough)"; else
		echo "  net.ipv4.tcp_tw_reuse: $cur → 1"
		changes=$((changes + 1))
		now+=("sysctl -w net.ipv4.tcp_tw_reuse=1")
	fi
	sysctl_text+="# reuse TIME_WAIT ports for new outgoing connections (1: all; 2, the default, loopback only)
net.ipv4.tcp_tw_reuse = 1
"
	before_text+="net.ipv4.tcp_tw_reuse = $cur
"
fi
# io_uring: wsload runs one ring per core. kernel.io_uring_disabled 1 lets only root and
# kernel.io_uring_group create rings, 2 nobody. Written only when it is not 0 already, and
# kept once written (a second --apply finds 0 and must write the same file).
if cur=$(current kernel.io_uring_disabled); then
	if [[ $cur == 0 ]]; then echo "  kernel.io_uring_disabled: 0 (enough)"; else
		echo "  kernel.io_uring_disabled: $cur → 0"
		changes=$((changes + 1))
		now+=("sysctl -w kernel.io_uring_disabled=0")
	fi
	if [[ $cur != 0 ]] || grep -qs '^kernel\.io_uring_disabled *=' "$sysctl_file"; then
		sysctl_text+="# io_uring for every process (1: root and kernel.io_uring_group only, 2: nobody): wsload runs one ring per core
kernel.io_uring_disabled = 0
"
		before_text+="kernel.io_uring_disabled = $cur
"
	fi
fi
if current net.netfilter.nf_conntrack_max >/dev/null; then
	want net.netfilter.nf_conntrack_max $((2 * n)) "connection-tracking entries: 2·N (each connection, and as many lingering after closes)"
fi
# The port range: connect() to one destination uses each local port once per source
# address, so each of the S addresses needs ⌈N/S⌉ ports. Widen only if that does not fit.
per_source=$(((n + s - 1) / s))
widest=$((65535 - 1024 + 1))
if ((per_source > widest)); then
	echo "  (even 1024-65535 offers only $widest ports per source address: N = $n needs" \
		"⌈N/$widest⌉ = $(((n + widest - 1) / widest)) source addresses, wsload --source-ip)"
fi
if range=$(current net.ipv4.ip_local_port_range) && [[ $range =~ ^([0-9]+)\ ([0-9]+)$ ]]; then
	low=${BASH_REMATCH[1]} high=${BASH_REMATCH[2]}
	if ((high - low + 1 >= per_source)) || ((low <= 1024 && high >= 65535)); then
		echo "  net.ipv4.ip_local_port_range: $range (enough for ⌈N/S⌉ = $per_source, or already the widest)"
	else
		echo "  net.ipv4.ip_local_port_range: $range → 1024 65535 (⌈N/S⌉ = $per_source > $((high - low + 1)) ports per source address)"
		changes=$((changes + 1))
		now+=("sysctl -w net.ipv4.ip_local_port_range=\"1024 65535\"")
		sysctl_text+="# ephemeral ports per source address: at least ⌈N/S⌉ to one target for S source addresses (--source-ip)
net.ipv4.ip_local_port_range = 1024 65535
"
		before_text+="net.ipv4.ip_local_port_range = $range
"
	fi
fi

# Never lower a limit: keep the current hard limit where it is higher.
hard_n=$(ulimit -Hn)
if [[ $hard_n == unlimited ]] || { is_number "$hard_n" && ((hard_n > fd)); }; then
	[[ $hard_n == unlimited ]] || fd=$hard_n
fi

limits_text="# Written by wsload tuning/apply.sh for N = $n connections, E = $e executors.
# Open files per process: N + 64 + 8·E (sockets, stdio, listeners, io_uring rings), rounded up.
*    soft    nofile     $fd
*    hard    nofile     $fd
# The same for root, which the * lines do not cover.
root soft    nofile     $fd
root hard    nofile     $fd
"
echo "# per-process limits ($limits_file, from the next login):"
echo "  nofile: soft $(ulimit -Sn), hard $(ulimit -Hn) → $fd"

path_of() { if [[ $1 == sysctl ]]; then echo "$sysctl_file"; else echo "$limits_file"; fi; }
text_of() { if [[ $1 == sysctl ]]; then printf '%s' "$sysctl_text"; else printf '%s' "$limits_text"; fi; }

# Is the file already exactly this?
same() { [[ -e $1 ]] && [[ $(cat "$1") == "$2" ]]; }

if [[ $mode == dry ]]; then
	echo
	echo "# for now only, without files (as root):"
	for c in "${now[@]}"; do echo "#   $c   # until reboot"; done
	echo "#   ulimit -Hn $fd && ulimit -Sn $fd   # this shell and what it starts"
	echo "#   prlimit --nofile=$fd:$fd -- wsload run ...   # one command"
	echo "#   prlimit --pid PID --nofile=$fd:$fd   # a running process"
	echo "#   (fs.nr_open caps any hard limit: raise it first; wsload raises its own soft limits to the hard ones)"
	echo
	for which in sysctl limits; do
		f=$(path_of "$which") text=$(text_of "$which")
		if same "$f" "$text"; then
			echo "# $f is already up to date"
		else
			echo "# would write $f:"
			printf '%s\n' "$text" | sed 's/^/#   | /'
		fi
	done
	echo "# dry run: nothing changed ($changes kernel setting(s) to change); add --apply to write (as root)"
	exit 0
fi

# --apply
mkdir -p "$(dirname "$sysctl_file")" "$(dirname "$limits_file")"
[[ -e $before_file ]] || printf '%s' "$before_text" >"$before_file"
for which in sysctl limits; do
	f=$(path_of "$which") text=$(text_of "$which")
	if same "$f" "$text"; then
		echo "$f: already up to date"
		continue
	fi
	# One backup, of the file as it was before the first --apply.
	if [[ ! -e $f.wsload-backup ]] && [[ ! -e $f.wsload-none ]]; then
		if [[ -e $f ]]; then cp -p "$f" "$f.wsload-backup"; else : >"$f.wsload-none"; fi
	fi
	printf '%s\n' "$text" >"$f.tmp" && mv -f "$f.tmp" "$f"
	echo "wrote $f"
done
load "$sysctl_file"
echo "applied; the open-files limits take effect at the next login (or: ulimit -Hn $fd && ulimit -Sn $fd)"
