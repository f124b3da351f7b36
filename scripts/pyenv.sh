#!/usr/bin/env bash
# The Python side of the tests and of CI, in one virtual environment under target/: target/pyenv.
#
# Usage: scripts/pyenv.sh REQUIREMENTS.txt...
#   Creates target/pyenv when it is missing or broken, pip-installs each requirements file whose
#   content changed since it was last installed there, and prints the venv's bin directory (the
#   only thing on stdout; progress goes to stderr). Callers put that directory first in PATH.
#
# The venv is made with `python3 -m venv` from PATH. Debian's python3 needs the python3-venv
# package for that: as root it is installed (apt-get); otherwise this says so and stops.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="$root/target/pyenv"
say() { echo "pyenv.sh: $*" >&2; }

command -v python3 >/dev/null || {
  say "python3 is not installed (Debian: apt-get install python3 python3-venv)"
  exit 1
}

if ! "$venv/bin/python3" -c 'import sys' 2>/dev/null; then
  if ! python3 -c 'import venv, ensurepip' 2>/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
      say "installing Debian's python3-venv (python3 -m venv needs it)"
      apt-get update -qq >&2
      DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
    else
      say "python3 -m venv does not work here: install Debian's python3-venv (as root: apt-get install python3-venv), then run this again"
      exit 1
    fi
  fi
  say "creating $venv with $(python3 --version 2>&1)"
  rm -rf "$venv"
  mkdir -p "$root/target"
  python3 -m venv "$venv" >&2
fi

for req in "$@"; do
  stamp="$venv/installed-$(basename "$req").sha256"
  sum="$(sha256sum <"$req")"
  if [[ ! -f $stamp || $(cat "$stamp") != "$sum" ]]; then
    say "pip install -r $req"
    PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_INPUT=1 PIP_ROOT_USER_ACTION=ignore \
      "$venv/bin/python3" -m pip install --quiet -r "$req" >&2
    echo "$sum" >"$stamp"
  fi
done

echo "$venv/bin"
