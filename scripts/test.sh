#!/usr/bin/env bash
# Quick start: install what the tests need (ffmpeg, chromium, haproxy, docker.io
# and debootstrap from apt, the test extras from PyPI) and run the whole test
# suite. Extra arguments go to pytest.
set -euo pipefail

need_apt=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || need_apt+=(ffmpeg)
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
command -v haproxy >/dev/null || need_apt+=(haproxy)
command -v ip >/dev/null || need_apt+=(iproute2)  # the SSDP multicast test's network namespace
# The docker tests start their own daemon and build their base image with debootstrap.
command -v dockerd >/dev/null || need_apt+=(docker.io)
command -v debootstrap >/dev/null || need_apt+=(debootstrap)
if [ ${#need_apt[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need_apt[@]}"
fi

source "$(dirname "${BASH_SOURCE[0]}")/setup.sh" test
exec .venv/bin/python -m pytest "$@"
