#!/usr/bin/env bash
# Lints deploy/: the systemd unit passes `systemd-analyze verify` (with
# ExecStart pointed at the built binary), and every PRESENCE_* variable in
# the env file names a real option of that binary.
# Usage: verify_deploy.sh PRESENCED_BIN REPO_DIR
set -euo pipefail
bin=$(realpath "$1")
repo=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if command -v systemd-analyze >/dev/null; then
  sed "s#/usr/local/bin/presenced#$bin#" "$repo/deploy/presenced.service" \
    > "$tmp/presenced.service"
  systemd-analyze verify "$tmp/presenced.service"
  echo "systemd-analyze verify: ok"
else
  echo "systemd-analyze not installed: unit not verified"
fi

help=$("$bin" --help)
status=0
while IFS= read -r line; do
  line=${line#\#}
  [[ $line =~ ^PRESENCE_([A-Z_]+)= ]] || continue
  opt="--$(tr 'A-Z_' 'a-z-' <<<"${BASH_REMATCH[1]}")"
  if ! grep -q -- "$opt" <<<"$help"; then
    echo "presenced.env: PRESENCE_${BASH_REMATCH[1]} matches no option ($opt)"
    status=1
  fi
done < "$repo/deploy/presenced.env"
# The env file must also be accepted as a whole by the binary's parser.
(
  set -a
  # shellcheck disable=SC1091
  . "$repo/deploy/presenced.env"
  set +a
  "$bin" --check-config >/dev/null
) || { echo "presenced.env: rejected by presenced --check-config"; status=1; }
[ $status -eq 0 ] && echo "presenced.env: ok"
exit $status
