#!/usr/bin/env bash
# Per-process limits a wsload run of N connections needs: open files
# (RLIMIT_NOFILE) and locked memory for io_uring (RLIMIT_MEMLOCK).
#
# Prints the current limits, the needed ones as formulas in N, and the
# commands. wsload raises its own soft limits up to the hard limits at start;
# this script is for the hard limits, which only root can raise.
#
#   tuning/ulimit.sh --connections 10000                 # dry run: print only
#   tuning/ulimit.sh --connections 10000 --apply -- wsload ...
#                                                        # raise, then run wsload under them
#   . tuning/ulimit.sh --connections 10000 --apply       # raise in the current shell
#
# Limits set by a script that is run (not sourced) end with it; that is why
# --apply either runs the command after `--` or must be sourced.

# Figures shared with src/sys/limits.rs (fds_needed, glommio_locked_bytes).
WSLOAD_FD_BASE=64          # stdio, listeners, report files, /proc reads, channels
WSLOAD_FD_PER_EXECUTOR=8   # three io_uring rings, an eventfd, timers, slack
WSLOAD_GLOMMIO_MIN_KIB=512 # glommio refuses to start below this memlock limit

wsload_ulimit_usage() {
	cat <<'EOF'
usage: tuning/ulimit.sh --connections N [--executors E] [--with-server]
                        [--io-memory-kib K] [--apply [-- COMMAND...]]

  --connections N     connections the run opens (required)
  --executors E       io_uring executors (pinned cores) in the process; default: nproc
  --with-server       the built-in server runs in the same process, so both
                      ends of every connection are open here (2·N sockets)
  --io-memory-kib K   glommio io_memory per executor in KiB; default 10240 (glommio's)
  --apply             raise the limits (soft, and hard where needed: root only);
                      never lowers a limit. Then run COMMAND if given.
EOF
}

# True if $1 is a whole number (no sign, no unit).
wsload_is_number() { [[ "$1" =~ ^[0-9]+$ ]]; }

# Raise soft limit (and hard if needed) of `ulimit -<flag>` to at least $2.
# Never lowers. Returns non-zero with a message when the hard limit can't move.
wsload_raise() {
	local flag=$1 want=$2 name=$3 soft hard
	soft=$(ulimit -S"$flag")
	hard=$(ulimit -H"$flag")
	if [[ $soft == unlimited ]] || { wsload_is_number "$soft" && ((soft >= want)); }; then
		echo "  $name: soft limit $soft already >= $want, unchanged"
		return 0
	fi
	if [[ $hard != unlimited ]] && ((hard < want)); then
		if ! ulimit -H"$flag" "$want" 2>/dev/null; then
			echo "  $name: could not raise the hard limit from $hard to $want (needs root with" \
				"CAP_SYS_RESOURCE); the soft limit stays at $soft" >&2
			return 1
		fi
		echo "  $name: hard limit raised from $hard to $want"
	fi
	if ! ulimit -S"$flag" "$want"; then
		echo "  $name: could not raise the soft limit from $soft to $want" >&2
		return 1
	fi
	echo "  $name: soft limit raised from $soft to $want"
}

# Print one limit: current values, the need, and the commands that close the gap.
# $1 ulimit flag, $2 needed value, $3 limits.conf item, $4 systemd value.
wsload_show() {
	local flag=$1 want=$2 item=$3 unit_value=$4 soft hard
	soft=$(ulimit -S"$flag")
	hard=$(ulimit -H"$flag")
	echo "#   current soft $soft, hard $hard"
	if [[ $soft == unlimited ]] || { wsload_is_number "$soft" && ((soft >= want)); }; then
		echo "#   ok: the soft limit already covers it"
		return 0
	fi
	if [[ $hard == unlimited ]] || ((hard >= want)); then
		echo "ulimit -S$flag $want   # wsload also does this itself at start"
	else
		echo "ulimit -H$flag $want && ulimit -S$flag $want   # hard limit: as root"
		echo "#   permanent: '* - $item $want' in /etc/security/limits.conf, or $unit_value in a systemd unit"
	fi
}

wsload_ulimit_main() {
	local connections="" executors="" with_server=0 io_kib=10240 apply=0
	while (($# > 0)); do
		case $1 in
		--connections | --executors | --io-memory-kib)
			if (($# < 2)); then
				echo "ulimit.sh: $1 needs a value" >&2
				return 2
			fi
			case $1 in
			--connections) connections=$2 ;;
			--executors) executors=$2 ;;
			--io-memory-kib) io_kib=$2 ;;
			esac
			shift 2
			;;
		--with-server) with_server=1; shift ;;
		--apply) apply=1; shift ;;
		-h | --help) wsload_ulimit_usage; return 0 ;;
		--) shift; break ;;
		*) echo "ulimit.sh: unknown argument '$1'" >&2; wsload_ulimit_usage >&2; return 2 ;;
		esac
	done
	if [[ -z $executors ]]; then
		executors=$(nproc 2>/dev/null || echo 1)
	fi
	if ! wsload_is_number "$connections" || ((10#$connections == 0)); then
		echo "ulimit.sh: --connections N is required, a whole number above 0 (got '$connections')" >&2
		return 2
	fi
	if ! wsload_is_number "$executors" || ! wsload_is_number "$io_kib"; then
		echo "ulimit.sh: --executors and --io-memory-kib take whole numbers (got '$executors', '$io_kib')" >&2
		return 2
	fi

	local n=$((10#$connections)) e=$((10#$executors)) io=$((10#$io_kib))
	local sockets nofile_need per_kib memlock_need sockets_formula="N"
	sockets=$n
	if ((with_server)); then
		sockets=$((2 * n))
		sockets_formula="2·N"
	fi
	nofile_need=$((sockets + WSLOAD_FD_BASE + WSLOAD_FD_PER_EXECUTOR * e))
	# glommio rounds io_memory up to 4 KiB (at least 64 KiB) and registers it
	# with each of its three rings, so it is charged three times.
	per_kib=$(((io + 3) / 4 * 4))
	((per_kib < 64)) && per_kib=64
	memlock_need=$((3 * per_kib * e))
	((memlock_need < WSLOAD_GLOMMIO_MIN_KIB)) && memlock_need=$WSLOAD_GLOMMIO_MIN_KIB

	local where="" capeff memlock_charged=$memlock_need
	((with_server)) && where=", built-in server in the same process"
	capeff=$(awk '/^CapEff:/ {print $2}' /proc/self/status 2>/dev/null)
	if [[ $capeff =~ ^[0-9a-fA-F]+$ ]] && (((16#$capeff >> 14) & 1)); then
		# The kernel does not charge io_uring buffers of a CAP_IPC_LOCK process.
		memlock_charged=$WSLOAD_GLOMMIO_MIN_KIB
	fi
	local nr_open
	nr_open=$(cat /proc/sys/fs/nr_open 2>/dev/null || echo '?')

	echo "# wsload limits for N=$n connections, E=$e executors$where"
	echo "#"
	echo "# open files (RLIMIT_NOFILE) = $sockets_formula + $WSLOAD_FD_BASE + $WSLOAD_FD_PER_EXECUTOR·E = $nofile_need"
	echo "#   fs.nr_open = $nr_open caps any hard limit"
	if wsload_is_number "$nr_open" && ((nofile_need > nr_open)); then
		echo "sysctl -w fs.nr_open=$nofile_need   # first, as root (see tuning/sysctl.sh)"
	fi
	wsload_show n "$nofile_need" nofile "LimitNOFILE=$nofile_need"
	echo "#"
	echo "# locked memory (RLIMIT_MEMLOCK, KiB) = 3·io_memory·E = 3·$io·$e = $memlock_need (at least $WSLOAD_GLOMMIO_MIN_KIB)"
	echo "#   short of it, glommio runs without registered buffers (a warning; sockets unaffected)"
	if ((memlock_charged != memlock_need)); then
		echo "#   this shell has CAP_IPC_LOCK: the kernel does not charge its io_uring buffers,"
		echo "#   so only glommio's floor of $WSLOAD_GLOMMIO_MIN_KIB KiB applies"
	fi
	wsload_show l "$memlock_charged" memlock "LimitMEMLOCK=$((memlock_charged * 1024))"

	if ((!apply)); then
		echo "#"
		echo "# dry run: nothing changed; add --apply to raise (never lowers a limit)"
		return 0
	fi
	echo "#"
	echo "# applying:"
	local rc=0
	wsload_raise n "$nofile_need" "open files" || rc=1
	wsload_raise l "$memlock_charged" "locked memory (KiB)" || rc=1
	if (($# > 0)); then
		if ((rc != 0)); then
			echo "ulimit.sh: not running '$1': the limits above could not be raised" >&2
			return "$rc"
		fi
		if [[ ${BASH_SOURCE[0]} != "$0" ]]; then
			echo "ulimit.sh: a command after -- is not run when the script is sourced" >&2
			return 2
		fi
		exec "$@"
	fi
	if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
		echo "# note: these limits end with this script; source it (. tuning/ulimit.sh ...) or pass '-- COMMAND'"
	fi
	return "$rc"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	wsload_ulimit_main "$@"
	exit $?
else
	wsload_ulimit_main "$@"
fi
