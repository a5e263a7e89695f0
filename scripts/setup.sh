#!/usr/bin/env bash
# setup.sh installs what building ganshift needs on Debian or Ubuntu:
# libtorch (headers and libraries), a C++ compiler and make; with the
# argument "test", also Chromium for the report's browser test and
# python3-torch for the PyTorch loading test of export; with "bench",
# python3-torch for the benchmark's PyTorch peer. It does nothing when
# they are already there. Go itself must be installed.
set -euo pipefail

need=()
[ -f /usr/include/torch/csrc/api/include/torch/torch.h ] || need+=(libtorch-dev)
command -v g++ >/dev/null 2>&1 || need+=(g++)
command -v make >/dev/null 2>&1 || need+=(make)
if [ "${1:-}" = "test" ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
if [ "${1:-}" = "test" ] || [ "${1:-}" = "bench" ]; then
  /usr/bin/python3 -c 'import torch' >/dev/null 2>&1 || need+=(python3-torch)
fi

if [ ${#need[@]} -gt 0 ]; then
  echo "setup: installing ${need[*]} (Debian packages)"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y "${need[@]}"
fi

if ! command -v go >/dev/null 2>&1; then
  echo "setup: Go is not on PATH (expected /usr/local/go/bin/go); install Go 1.26 or newer" >&2
  exit 1
fi
go mod download
