#!/usr/bin/env bash
# Installs (or, when not root, names) the Debian packages presenced needs.
# Usage: scripts/deps.sh [build|test|bench|fuzz|package]
# bench: what bench/compare.sh needs on top of a build (redis-server and
# node/npm for the reference server in bench/reference/).
set -euo pipefail
mode=${1:-build}

pkgs=(cmake make g++ ccache pkg-config
      libcaf-dev libboost1.81-dev librocksdb-dev nlohmann-json3-dev
      libssl-dev libjwt-dev libcli11-dev libspdlog-dev prometheus-cpp-dev)
if [ "$mode" = test ]; then
  pkgs+=(catch2 curl openssl nodejs chromium clang-format clang libclang-rt-14-dev)
fi
# The Debian package (make package, tests/deploy/verify_package.sh):
# dpkg-shlibdeps finds its dependencies, CPack runs file on what it packs.
if [ "$mode" = test ] || [ "$mode" = package ]; then
  pkgs+=(dpkg-dev file)
fi
if [ "$mode" = fuzz ]; then
  pkgs+=(clang libclang-rt-14-dev)
fi
if [ "$mode" = bench ]; then
  pkgs+=(redis-server nodejs)
fi
node_mode=no
case "$mode" in test|bench) node_mode=yes ;; esac

# promtool, for the suite's check of deploy/prometheus's rules
# (tests/deploy/verify_observability.mjs): taken from Debian's prometheus
# package, unpacked into .cache/promtool/ and not installed (installing the
# package would start a Prometheus server on this machine). Without it the
# check is skipped with a message.
fetch_promtool() {
  local root dir tmp
  root=$(cd "$(dirname "$0")/.." && pwd)
  dir=$root/.cache/promtool
  command -v promtool >/dev/null && return 0
  [ -x "$dir/promtool" ] && return 0
  tmp=$(mktemp -d)
  if (cd "$tmp" && apt-get download -qq prometheus >/dev/null 2>&1 \
      && dpkg-deb -x prometheus_*.deb x); then
    mkdir -p "$dir" && cp "$tmp/x/usr/bin/promtool" "$dir/"
    echo "deps: promtool unpacked into .cache/promtool/"
  else
    echo "deps: could not fetch Debian's prometheus package; the rules are not checked by promtool" >&2
  fi
  rm -rf "$tmp"
}
if [ "$mode" = test ]; then fetch_promtool; fi

missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
# nodejs may come from elsewhere (nodesource, nvm): a working node+npm is enough.
if [ "$node_mode" = yes ] && command -v node >/dev/null && command -v npm >/dev/null; then
  missing=("${missing[@]/nodejs}")
fi
missing=($(printf '%s\n' "${missing[@]}" | grep -v '^$' || true))
# Debian's nodejs package does not ship npm.
if [ "$node_mode" = yes ] && ! command -v npm >/dev/null; then missing+=(npm); fi

[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
else
  echo "deps: missing Debian packages. Run:" >&2
  echo "  sudo apt-get install -y ${missing[*]}" >&2
  exit 1
fi
