#!/usr/bin/env bash
# Builds the Debian package from what is built (CPack, into a temporary
# directory: nothing is compiled) and checks it: the files it holds (and no
# build paths), its control fields and maintainer scripts (sh -n, and
# where installed, shellcheck), the extracted binary (--version, and
# --check-config on the example config), the unit (systemd-analyze
# verify), and lintian where installed (errors fail, the rest is printed).
# Usage: verify_package.sh PRESENCED_BIN CPACK BUILD_DIR REPO_DIR
set -euo pipefail
bin=$1
cpack=$2
build=$(realpath "$3")
repo=$(realpath "$4")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
status=0
fail() { echo "FAIL: $*"; status=1; }

[ -x "$bin" ] || { echo "FAIL: $bin is not built"; exit 1; }
for tool in dpkg-deb dpkg-shlibdeps file; do
  command -v "$tool" >/dev/null || {
    echo "FAIL: $tool is missing (scripts/deps.sh test installs dpkg-dev, file)"
    exit 1
  }
done

# -- build ------------------------------------------------------------------
start=$SECONDS
if ! "$cpack" -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" \
     >"$tmp/cpack.log" 2>&1; then
  cat "$tmp/cpack.log"
  echo "FAIL: cpack"
  exit 1
fi
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
arch=$(dpkg --print-architecture)
deb=$tmp/out/presenced_${version}_${arch}.deb
if [ ! -f "$deb" ]; then
  ls "$tmp/out"
  echo "FAIL: cpack made no presenced_${version}_${arch}.deb"
  exit 1
fi
echo "built $(basename "$deb"): $(du -h "$deb" | cut -f1) in $((SECONDS - start)) s"

# -- contents ---------------------------------------------------------------
dpkg-deb -c "$deb" >"$tmp/contents"
for f in ./usr/bin/presenced ./lib/systemd/system/presenced.service \
         ./etc/presenced/presenced.toml ./usr/share/doc/presenced/copyright \
         ./usr/share/doc/presenced/changelog.gz \
         ./usr/share/doc/presenced/examples/presenced.env \
         ./usr/share/man/man8/presenced.8.gz; do
  grep -q " $f\$" "$tmp/contents" || fail "package lacks $f"
done
awk '{print $6}' "$tmp/contents" >"$tmp/paths"
if grep -v -E '^\./(usr|etc|lib)(/|$)' "$tmp/paths"; then
  fail "paths outside /usr, /etc, /lib (above)"
fi
if grep -F -e "$build" -e "$repo" -e _CPack_Packages -e /usr/local "$tmp/paths"; then
  fail "build paths in the package (above)"
fi
grep -q '^-rwxr-xr-x root/root .* \./usr/bin/presenced$' "$tmp/contents" \
  || fail "/usr/bin/presenced is not root-owned 0755"
echo "files:"
awk '$1 !~ /^d/ {printf "  %s %9s %s\n", $1, $3, substr($6, 2)}' "$tmp/contents"

# -- control ----------------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = presenced ] || fail "Package: $(field Package)"
[ "$(field Version)" = "$version" ] || fail "Version: $(field Version)"
[ "$(field Architecture)" = "$arch" ] || fail "Architecture: $(field Architecture)"
[[ $(field Maintainer) =~ ^[^\<]+\ \<[^@\>]+@[^\>]+\>$ ]] \
  || fail "Maintainer: $(field Maintainer)"
depends=$(field Depends)
# dpkg-shlibdeps' libraries and the adduser that postinst calls.
for dep in adduser libc6 libstdc++6 librocksdb libcaf-core libcaf-io \
           libjwt libspdlog libssl3; do
  grep -q "\(^\|, \)$dep" <<<"$depends" || fail "Depends lacks $dep: $depends"
done
dpkg-deb -e "$deb" "$tmp/control"
for s in postinst prerm postrm; do
  if [ ! -f "$tmp/control/$s" ]; then fail "no $s"; continue; fi
  [ -x "$tmp/control/$s" ] || fail "$s is not executable"
  sh -n "$tmp/control/$s" || fail "$s: sh -n"
done
grep -qx /etc/presenced/presenced.toml "$tmp/control/conffiles" \
  || fail "/etc/presenced/presenced.toml is not a conffile"
grep -q 'adduser --system --group' "$tmp/control/postinst" \
  || fail "postinst does not create the presenced system user"
if command -v shellcheck >/dev/null; then
  (cd "$tmp/control" && shellcheck -s sh postinst prerm postrm) \
    || fail "shellcheck (above)"
fi
echo "control: $(field Package) $(field Version) $(field Architecture)"
echo "  Depends: $depends"

# -- the extracted files ----------------------------------------------------
root=$tmp/root
dpkg -x "$deb" "$root"
pbin=$root/usr/bin/presenced
if readelf -S "$pbin" | grep -q -E '\.(debug_info|symtab)\b'; then
  fail "/usr/bin/presenced is not stripped"
fi
echo "  /usr/bin/presenced: $(du -h "$pbin" | cut -f1) (built: $(du -h "$bin" | cut -f1))"
if readelf -d "$pbin" | grep -E 'R(UN)?PATH'; then
  fail "/usr/bin/presenced has a library search path (above)"
fi
got=$("$pbin" --version)
[ "$got" = "presenced $version" ] \
  || fail "--version says '$got', the package is $version"
conf=$root/etc/presenced/presenced.toml
if out=$(env -i PATH="$PATH" "$pbin" --check-config --config "$conf" 2>&1); then
  grep -q '^data-dir = "/var/lib/presenced"$' <<<"$out" \
    || fail "the example config does not set data-dir /var/lib/presenced"
else
  echo "$out"
  fail "presenced --check-config rejects the example config"
fi
# The commented-out settings name real options too.
help=$("$pbin" --help)
while IFS= read -r name; do
  grep -q -E -- "--$name( |,|=|\$)" <<<"$help" || fail "presenced.toml: no option --$name"
done < <(sed -n 's/^#\?\([a-z][a-z-]*\) = .*/\1/p' "$conf")

unit=$root/lib/systemd/system/presenced.service
grep -qx 'ExecStart=/usr/bin/presenced --config /etc/presenced/presenced.toml' "$unit" \
  || fail "the unit does not run /usr/bin/presenced with the config"
grep -qx 'User=presenced' "$unit" || fail "the unit does not run as presenced"
grep -qx 'StateDirectoryMode=0750' "$unit" || fail "the unit's data dir is world-readable"
grep -q DynamicUser "$unit" && fail "the unit keeps DynamicUser"
if grep -rlF -e "$build" -e "$repo" "$root/etc" "$root/lib"; then
  fail "build paths in the files above"
fi
if command -v systemd-analyze >/dev/null; then
  sed "s#/usr/bin/presenced#$pbin#" "$unit" >"$tmp/presenced.service"
  if systemd-analyze verify "$tmp/presenced.service"; then
    echo "systemd-analyze verify (the packaged unit): ok"
  else
    fail "systemd-analyze verify"
  fi
fi

# -- lintian ----------------------------------------------------------------
if command -v lintian >/dev/null; then
  start=$SECONDS
  if lintian --fail-on error --display-info "$deb" >"$tmp/lintian" 2>&1; then
    echo "lintian: no errors ($((SECONDS - start)) s)"
  else
    fail "lintian reports errors"
  fi
  sed 's/^/  /' "$tmp/lintian"
else
  echo "lintian not installed: not run"
fi

[ $status -eq 0 ] && echo "package: ok"
exit $status
