#!/bin/sh
# Install what the containers tests need on Debian/Ubuntu: Podman (serves the Docker Engine API),
# runc (crun fails on hybrid cgroups here) and a static busybox (the test image's rootfs).
# Idempotent: does nothing when all three are present. Run as root (make test does).
set -eu
if command -v podman >/dev/null 2>&1 && command -v runc >/dev/null 2>&1 \
        && dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed"; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "install-podman.sh: run as root (apt-get install -y podman runc busybox-static)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q podman runc busybox-static >/dev/null
