#!/usr/bin/env bash
# Run one scenario as N shards on N hosts over SSH, started together, then merge the results
# here: the bare-metal counterpart of scripts/k8s/ (the same --shard, --start-at and merge).
#
#   scripts/ssh-shards.sh --hosts gen1,gen2,gen3,gen4 --scenario peak.toml --out results/peak
#
# Each host needs wsload on its PATH (or --wsload PATH), SSH access without a password
# prompt, its clock synchronized (NTP: the shards start at one wall-clock time), and its
# limits raised (tuning/apply.sh). Host i runs shard i/N; its results come back into
# OUT/shard-i, and `wsload merge` writes the whole run into OUT/all.
#
# Options:
#   --hosts H1,H2,..   generator hosts ([user@]host), one shard each (required)
#   --scenario FILE    the scenario (required); copied to each host
#   --out DIR          local results directory [./wsload-results/ssh-<UTC time>]
#   --start-in SECS    start this many seconds from now, leaving time to reach every host [30]
#   --wsload PATH      wsload on the hosts [wsload]
#   --dry-run          print the commands instead of running them
# Extra arguments after `--` are passed to every `wsload run` (e.g. -- --cores 0-7).
set -euo pipefail

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }

hosts="" scenario="" out="" start_in=30 wsload="wsload" dry=0
extra=()
while [ $# -gt 0 ]; do
  case "$1" in
    --hosts) hosts="$2"; shift 2 ;;
    --scenario) scenario="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --start-in) start_in="$2"; shift 2 ;;
    --wsload) wsload="$2"; shift 2 ;;
    --dry-run) dry=1; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; extra=("$@"); break ;;
    *) echo "ssh-shards.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$hosts" ] || [ -z "$scenario" ]; then
  echo "ssh-shards.sh: --hosts and --scenario are required (see --help)" >&2
  exit 2
fi
if [ ! -f "$scenario" ]; then
  echo "ssh-shards.sh: no scenario file $scenario" >&2
  exit 2
fi
case "$start_in" in
  ''|*[!0-9]*) echo "ssh-shards.sh: --start-in takes whole seconds, not $start_in" >&2; exit 2 ;;
esac

IFS=',' read -r -a host_list <<< "$hosts"
n=${#host_list[@]}
run_id="wsload-$(date -u +%Y%m%dT%H%M%SZ)"
out="${out:-./wsload-results/ssh-${run_id#wsload-}}"
start_at="$(date -u -d "+${start_in} seconds" +%Y-%m-%dT%H:%M:%SZ)"
remote_dir="/tmp/$run_id"

# Run (or with --dry-run, print) one command.
run() {
  if [ "$dry" = 1 ]; then
    printf '%q ' "$@"
    echo
  else
    "$@"
  fi
}

echo "ssh-shards.sh: $n shards, start at $start_at, results into $out" >&2
run mkdir -p "$out"
pids=()
for i in "${!host_list[@]}"; do
  h="${host_list[$i]}"
  remote_cmd="mkdir -p $remote_dir && cat > $remote_dir/scenario.toml && $wsload run --scenario $remote_dir/scenario.toml --shard $i/$n --start-at $start_at --out $remote_dir/shard-$i -q"
  for a in "${extra[@]+"${extra[@]}"}"; do
    remote_cmd+=" $(printf '%q' "$a")"
  done
  if [ "$dry" = 1 ]; then
    run ssh "$h" "$remote_cmd"
  else
    # Each shard in the background; its status is collected below. The command is built
    # here on purpose (its values are this script's), so it expands on this side.
    # shellcheck disable=SC2029
    ssh "$h" "$remote_cmd" < "$scenario" > "$out/shard-$i.log" 2>&1 &
    pids+=("$!")
  fi
done

failed=0
for i in "${!pids[@]}"; do
  if ! wait "${pids[$i]}"; then
    echo "ssh-shards.sh: shard $i/$n on ${host_list[$i]} ended with an error (see $out/shard-$i.log)" >&2
    failed=1
  fi
done

for i in "${!host_list[@]}"; do
  # A shard that failed may still have written results: copy what there is.
  run scp -q -r "${host_list[$i]}:$remote_dir/shard-$i" "$out/" || echo "ssh-shards.sh: no results from shard $i/$n" >&2
done

# Merge whatever came back; a missing shard makes the merge partial (exit 3) and is named.
status=0
run wsload merge "$out"/shard-* --out "$out/all" || status=$?
if [ "$failed" = 1 ] && [ "$status" = 0 ]; then
  status=1
fi
exit "$status"
