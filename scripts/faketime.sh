#!/usr/bin/env bash
# The suite runs a second time with the clock moved ahead (Makefile: test), through Debian's
# libfaketime, so a test that only passes near the date it was written fails here first.
set -euo pipefail
if command -v faketime >/dev/null 2>&1; then exit 0; fi
echo "installing Debian's faketime for the test run with the clock moved ahead"
export DEBIAN_FRONTEND=noninteractive
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq faketime >/dev/null
faketime '+60 days' date -u
