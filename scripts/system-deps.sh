#!/usr/bin/env bash
# Install the system packages the tests start privately, when missing (Debian; needs root).
# PostgreSQL and Redis run as private servers on free ports; Podman serves the Docker API for the
# container tests; runc + busybox-static are what Podman needs on this kind of machine; Prometheus
# (promtool) and Alertmanager (amtool) check the alert rules and route perfbook exports; Node.js and
# npm run the Express service instrumented by express-prom-bundle that the triage tests probe.
# `system-deps.sh lab` installs only what the lab needs (PostgreSQL, Redis): what `make run` uses.
set -euo pipefail

need=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || command -v initdb >/dev/null || need+=(postgresql postgresql-contrib)
command -v redis-server >/dev/null || need+=(redis-server)
if [ "${1:-all}" != lab ]; then
  command -v podman >/dev/null || need+=(podman)
  command -v runc >/dev/null || need+=(runc)
  # the test image is a busybox rootfs: it must be the static build
  dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q "install ok installed" || need+=(busybox-static)
  # the status page and postmortem tests open the HTML in Debian's Chromium through Playwright
  command -v chromium >/dev/null || need+=(chromium)
  # the SMTP STARTTLS / SMTPS tests make their certificate with it
  command -v openssl >/dev/null || need+=(openssl)
  # promtool checks and tests the exported alert rules; amtool / alertmanager check the exported route
  command -v promtool >/dev/null || need+=(prometheus)
  command -v amtool >/dev/null || need+=(prometheus-alertmanager)
  # the prometheus probe's tests scrape a real node_exporter for the fleet's host figures
  command -v prometheus-node-exporter >/dev/null || need+=(prometheus-node-exporter)
  command -v node >/dev/null || need+=(nodejs)
  command -v npm >/dev/null || need+=(npm)
  # the saturation tests make the condition for real: CPU (stress-ng), disk I/O (fio), a network
  # namespace with random drops (ip, iptables)
  command -v stress-ng >/dev/null || need+=(stress-ng)
  command -v fio >/dev/null || need+=(fio)
  command -v ip >/dev/null || need+=(iproute2)
  command -v iptables >/dev/null || need+=(iptables)
fi

if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "missing system packages: ${need[*]} (install them as root: apt-get install -y ${need[*]})" >&2
  exit 0
fi
echo "installing: ${need[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
# The Prometheus packages start their services on install where systemd runs (listening on all
# interfaces): the tests start their own on free loopback ports, so leave none running that we added.
for svc in prometheus prometheus-alertmanager prometheus-node-exporter; do
  if [[ " ${need[*]} " == *" $svc "* ]] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now "$svc" >/dev/null 2>&1 || true
  fi
done
