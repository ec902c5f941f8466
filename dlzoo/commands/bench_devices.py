"""``dlzoo bench RECIPE --device cpu --device gpu``: training speed on each device, and their ratio.

A process cannot switch from GPU to CPU once TensorFlow has started, so each device's bench is
a fresh ``dlzoo bench --device D`` process; this module collects their ``bench.json`` files and
prints samples/s per recipe for every device and the GPU / CPU ratio. On a machine without a GPU
it says so and runs the CPU column alone.
"""

import datetime
import pathlib
import subprocess
import sys

from dlzoo.runs import folders
from dlzoo.core.errors import RunFailed
from dlzoo.runs.report import markdown_table


def gpu_available():
    """True when TensorFlow sees a GPU (asked in a child process, so this one stays device-neutral)."""
    probe = "import tensorflow as tf; print(len(tf.config.list_physical_devices('GPU')))"
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    return completed.returncode == 0 and completed.stdout.strip().splitlines()[-1:] != ["0"]


def bench_on(device, patterns, quick, root, echo):
    """Run ``dlzoo bench`` on one device in a child process; returns its bench.json rows."""
    bench_root = pathlib.Path(root) / "bench"
    before = set(bench_root.iterdir()) if bench_root.is_dir() else set()
    command = [sys.executable, "-m", "dlzoo", "bench", *patterns, "--device", device, "--runs", str(root)]
    if quick:
        command.append("--quick")
    echo(f"== {device}: {' '.join(command[1:])}")
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise RunFailed(f"dlzoo bench --device {device} failed: {(completed.stderr or completed.stdout).strip()[-300:]}")
    written = sorted(set(bench_root.iterdir()) - before)
    if not written:
        raise RunFailed(f"dlzoo bench --device {device} wrote no bench folder")
    return folders.read_json(written[-1] / "bench.json")["rows"]


def compare_devices(patterns, devices, quick=False, out=None, echo=print):
    """Bench ``patterns`` on each of ``devices`` (``cpu``, ``gpu``); print and write the comparison."""
    root = pathlib.Path(out or folders.DEFAULT_ROOT)
    devices = list(dict.fromkeys(devices))  # each once, in the order given
    if "gpu" in devices and not gpu_available():
        echo("no GPU visible to TensorFlow on this machine: the gpu column is skipped, the cpu column runs")
        devices = [device for device in devices if device != "gpu"] or ["cpu"]
    results = {device: bench_on(device, patterns, quick, root, echo) for device in devices}
    names = [row["recipe"] for row in results[devices[0]]]
    header = ["recipe", *[f"{device} samples/s" for device in devices]]
    if {"cpu", "gpu"} <= set(devices):
        header.append("gpu / cpu")
    rows = []
    for name in names:
        speeds = {device: next((row.get("samples/s") for row in results[device] if row["recipe"] == name), None)
                  for device in devices}
        row = [name, *[round(speeds[device]) if speeds[device] else "failed" for device in devices]]
        if "gpu / cpu" in header:
            row.append(f"{speeds['gpu'] / speeds['cpu']:.2f}x" if speeds["cpu"] and speeds["gpu"] else "")
        rows.append(row)
    table = markdown_table(header, rows)
    folder = folders.new_run_folder("bench-devices", out)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    folders.atomic_write_json(folder / "devices.json", {"date": stamp, "devices": devices, "quick": quick,
                                                     "results": results})
    folders.atomic_write_text(folder / "devices.md", f"# dlzoo bench by device {stamp}\n\n{table}\n")
    echo("\n" + table)
    echo(f"\nwritten to {folder / 'devices.md'}")
    return rows
