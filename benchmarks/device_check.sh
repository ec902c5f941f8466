#!/usr/bin/env bash
# The project's GPU checks in one command, for the GPU machine a task is sometimes lent (JAX, no
# TensorFlow, no network): samples/s of each model family (gpu.py) and fashion-resnet on the real
# Fashion-MNIST, 3 seeds, with the time to 0.945 test accuracy (fashion_resnet_gpu.py).
#
# Prepare here, once (both folders are ignored by git and travel with `carry`):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#       --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
#       -d .whl keras==3.15.1 namex optree
#   mkdir -p .data/fashion_mnist && cp /usr/share/datasets/fashion-mnist/*-ubyte.gz .data/fashion_mnist/
# Then one call of the device tool: command "bash benchmarks/device_check.sh", carry [".whl", ".data"],
# timeout_s 600. Everything it prints is also written under $OUT.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${OUT:-/tmp/device_check}
mkdir -p "$out"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>&1 | tee "$out/gpu.txt" || true
# Each step has its own limit, so that a slow one still leaves the others their time.
timeout 150 python3 benchmarks/gpu.py --json "$out/gpu.json" 2>&1 | tee "$out/gpu.log" || true
timeout 360 python3 benchmarks/fashion_resnet_gpu.py --data .data/fashion_mnist --seeds 0 1 2 --epochs "${EPOCHS:-30}" \
    --out "$out/fashion_resnet.json" 2>&1 | tee "$out/fashion_resnet.log"
