#!/usr/bin/env bash
# Check the Kubernetes manifests here without a cluster:
#  1. kubernetes-validate (PyPI; bundles the API schemas, works offline) in strict mode:
#     every field known and of the right type;
#  2. what a schema cannot see: completions = parallelism = SHARDS, Indexed completion, the
#     completion index passed as --shard, --start-at passed, the scenario mounted where the
#     command reads it, and the scenario itself valid for `wsload validate`.
# Usage: scripts/k8s/check.sh [path/to/wsload]   (default: target/release/wsload)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
wsload="${1:-$here/../../target/release/wsload}"

kubernetes-validate --strict --quiet "$here"/*.yaml
echo "kubernetes-validate: $(cd "$here" && echo ./*.yaml) pass"

scenario="$(mktemp --suffix=.toml)"
trap 'rm -f "$scenario"' EXIT

python3 - "$here" "$scenario" <<'PY'
import sys, yaml
here, scenario_out = sys.argv[1], sys.argv[2]
def load(name):
    with open(f"{here}/{name}") as f:
        return yaml.safe_load(f)
job, cm = load("wsload-job.yaml"), load("wsload-scenario.yaml")
spec = job["spec"]
pod = spec["template"]["spec"]
c = pod["containers"][0]
env = {e["name"]: e.get("value") for e in c["env"]}
script = "\n".join(c["args"])
problems = []
if spec.get("completionMode") != "Indexed":
    problems.append("completionMode must be Indexed (the completion index is the shard)")
if not (spec["completions"] == spec["parallelism"] == int(env["SHARDS"])):
    problems.append(f"completions {spec['completions']}, parallelism {spec['parallelism']} and SHARDS {env['SHARDS']} must be equal")
for needle in ['--shard "$JOB_COMPLETION_INDEX/$SHARDS"', '--start-at "$START_AT"', "--scenario /scenario/peak.toml"]:
    if needle not in script:
        problems.append(f"the command lacks `{needle}`")
mounts = {m["name"]: m["mountPath"] for m in c["volumeMounts"]}
volumes = {v["name"]: v for v in pod["volumes"]}
if mounts.get("scenario") != "/scenario" or volumes["scenario"]["configMap"]["name"] != cm["metadata"]["name"]:
    problems.append("the scenario ConfigMap must be mounted at /scenario")
if "peak.toml" not in cm["data"]:
    problems.append("the ConfigMap must hold peak.toml")
if pod.get("restartPolicy") != "Never" or spec.get("backoffLimitPerIndex") != 0:
    problems.append("a failed shard must not be retried (restartPolicy Never, backoffLimitPerIndex 0)")
if problems:
    sys.exit("scripts/k8s: " + "; ".join(problems))
with open(scenario_out, "w") as f:
    f.write(cm["data"]["peak.toml"])
print(f"structure: Indexed Job of {spec['completions']} shards, --shard from the completion index, --start-at, scenario mounted")
PY

"$wsload" validate "$scenario" >/dev/null
echo "scenario in wsload-scenario.yaml: valid for wsload validate"
