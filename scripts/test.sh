#!/usr/bin/env bash
# The test command: installs what the integration tests need when it is missing, then runs
# `cargo test --release`, passing its arguments through (`scripts/test.sh --test proxy`).
#
#  - The Python peers and readers (tests/peers/requirements.txt) go into a virtual environment,
#    target/pyenv (scripts/pyenv.sh), whose bin is put first in PATH for the tests.
#  - chromium (tests/report_html.rs opens report.html in it), promtool (Debian's prometheus
#    package: tests/report_formats.rs lints metrics.prom with it) and ss (iproute2:
#    tests/limits.rs) come from Debian's packages: installed when this runs as root; otherwise
#    it says what is missing and which tests will fail for it, and runs the tests all the same.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bin="$(scripts/pyenv.sh tests/peers/requirements.txt)"
export PATH="$bin:$PATH"
export WSLOAD_TEST_PYTHON="$bin/python3"
"$WSLOAD_TEST_PYTHON" -c 'import websockets, hdrh, prometheus_client' || {
  echo "test.sh: the Python packages of tests/peers/requirements.txt do not import from $bin" >&2
  exit 1
}

# command, Debian package, apt-get options, the tests that need it
needs=(
  "chromium|chromium||tests/report_html.rs (every test)"
  "promtool|prometheus|--no-install-recommends|tests/report_formats.rs (the real-run test)"
  "ss|iproute2|--no-install-recommends|tests/limits.rs (source addresses)"
  "openssl|openssl|--no-install-recommends|tests/tls.rs (certificates made by openssl)"
)
missing=()
for n in "${needs[@]}"; do
  IFS='|' read -r cmd _ _ _ <<<"$n"
  command -v "$cmd" >/dev/null || missing+=("$n")
done

if ((${#missing[@]})) && [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
  echo "test.sh: installing Debian packages for the tests" >&2
  apt-get update -qq >&2
  for n in "${missing[@]}"; do
    IFS='|' read -r cmd pkg opts _ <<<"$n"
    echo "test.sh: apt-get install ${opts:+$opts }$pkg (for $cmd)" >&2
    # shellcheck disable=SC2086 # $opts is empty or one option
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $opts "$pkg" >/dev/null
  done
  missing=()
  for n in "${needs[@]}"; do
    IFS='|' read -r cmd _ _ _ <<<"$n"
    command -v "$cmd" >/dev/null || missing+=("$n")
  done
fi

for n in "${missing[@]}"; do
  IFS='|' read -r cmd pkg opts tests <<<"$n"
  echo "test.sh: MISSING $cmd (Debian package $pkg: apt-get install ${opts:+$opts }$pkg, as root):" \
    "$tests cannot pass without it" >&2
done

cargo test --release "$@"
