#!/usr/bin/env bash
# Installs the Debian 12 packages memshield needs: `deps.sh build` for building and running the
# server, `deps.sh test` adds the test suites' reference server, clients in five languages and
# twemproxy, plus the one npm client (memjs, locked in tests/integration/clients); `deps.sh
# bench` adds what bench/ needs (matplotlib for bench/plot.py). Only calls
# apt-get or npm when something is missing, so repeated runs cost nothing.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)

build_pkgs=(g++ cmake make pkg-config libxxhash-dev libssl-dev libseccomp-dev libsasl2-dev)
test_pkgs=(libgtest-dev libbenchmark-dev memcached python3 python3-pytest python3-pymemcache
           python3-pylibmc libmemcached-tools iproute2 procps openssl
           libcache-memcached-fast-perl ruby ruby-dalli php-cli php-memcached nutcracker
           libclang-rt-14-dev sasl2-bin libsasl2-modules libsasl2-modules-db
           perl libio-socket-ssl-perl util-linux python3-binary-memcached)
# Node.js: Debian's nodejs and npm, unless a node with its own npm is already installed (the
# NodeSource nodejs package bundles npm and conflicts with Debian's npm package).
command -v npm >/dev/null 2>&1 || test_pkgs+=(nodejs npm)

pkgs=("${build_pkgs[@]}")
if [[ "${1:-build}" == "test" ]]; then pkgs+=("${test_pkgs[@]}"); fi
# `deps.sh bench`: the side-by-side scripts' reference server and bench/plot.py's matplotlib.
bench_pkgs=(libbenchmark-dev memcached python3 python3-matplotlib)
if [[ "${1:-build}" == "bench" ]]; then pkgs+=("${bench_pkgs[@]}"); fi

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

node_clients="$repo/tests/integration/clients"
if [[ "${1:-build}" == "test" && ! -f "$node_clients/node_modules/memjs/package.json" ]]; then
  echo "deps: installing the npm packages of tests/integration/clients" >&2
  npm ci --no-audit --no-fund --prefix "$node_clients" >/dev/null
fi
