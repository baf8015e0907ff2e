#!/usr/bin/env bash
# scripts/install-deps.sh PKG...: installs with apt-get the Debian packages of the list that are
# not installed yet (one `apt-get update` first, only when something is missing). Needs root
# when anything is missing.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -gt 0 ] || exit 0
if [ "$(id -u)" != 0 ]; then
  echo "install-deps.sh: packages missing (${missing[*]}) and not root: run with sudo" >&2
  exit 1
fi
printf '\n=== installing: %s\n' "${missing[*]}"
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
