#!/usr/bin/env bash
# Installs the Debian 12 packages memshield needs: `deps.sh build` for building and running the
# server, `deps.sh test` adds the test suites' reference server and clients. Only calls apt-get
# when something is missing, so repeated runs cost nothing.
set -euo pipefail

build_pkgs=(g++ cmake make libxxhash-dev libssl-dev)
test_pkgs=(libgtest-dev libbenchmark-dev memcached python3 python3-pytest python3-pymemcache
           python3-pylibmc libmemcached-tools iproute2 procps)

pkgs=("${build_pkgs[@]}")
if [[ "${1:-build}" == "test" ]]; then pkgs+=("${test_pkgs[@]}"); fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "deps: installing ${missing[*]}" >&2
  sudo_cmd=()
  [[ $(id -u) -ne 0 ]] && sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >/dev/null
fi
