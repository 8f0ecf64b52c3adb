#!/usr/bin/env bash
# Set up this checkout on a fresh machine: a .venv with nas (+ test tools) and Fashion-MNIST
# from Debian's package. Safe to re-run; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
  "${PYTHON:-python3}" -m venv .venv
fi
if ! .venv/bin/python -c "import nas, torch, timm, optuna, fvcore, pytest, build, optuna_dashboard, sklearn" \
    2>/dev/null; then
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[test]"
fi

if [ ! -f /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz ] \
   && [ -z "${NAS_FASHION_MNIST_DIR:-}" ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get install -y -q dataset-fashion-mnist \
    || { $sudo apt-get update -q && $sudo apt-get install -y -q dataset-fashion-mnist; } \
    || echo "warning: could not install dataset-fashion-mnist; the default search needs it" >&2
fi
echo "setup done: .venv ready"
