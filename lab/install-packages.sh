#!/usr/bin/env bash
# Install the Debian packages the lab and the tests use; quick and silent when all are present.
set -euo pipefail
packages=(shellcheck iproute2 iputils-ping arping ndisc6 tcpdump bird2 frr gobgpd keepalived curl procps python3-venv
  podman runc mmdebstrap gcc libc6-dev containernetworking-plugins)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "Missing Debian packages: ${missing[*]}. Install them as root: apt-get install ${missing[*]}" >&2
  exit 1
fi
echo "==> installing Debian packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Nothing here may run as a system service: the lab starts its own daemons with private paths.
for svc in bird frr keepalived; do service "$svc" stop >/dev/null 2>&1 || true; done
