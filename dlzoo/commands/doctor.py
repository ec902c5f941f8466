"""``dlzoo doctor``: what this machine offers for training, in a few lines.

TensorFlow / Keras / Python versions and the CUDA / cuDNN versions TensorFlow was built with;
the GPUs TensorFlow sees, with their compute capability and whether mixed precision will help
(tensor cores: compute capability 7.0 or newer); the TFDS data folder and the datasets cached
in it; the real datasets (Fashion-MNIST, MNIST, CIFAR-10) found on disk and where; the runs folder
and how many runs it holds.
"""

import os
import pathlib
import platform


def gpu_lines():
    """One line per visible GPU (name, compute capability, mixed-precision advice), or why there is none."""
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        built = "with" if tf.test.is_built_with_cuda() else "without"
        return [f"no GPU visible to TensorFlow (this TensorFlow is built {built} CUDA); training runs on the CPU, "
                "mixed precision would not help"]
    lines = []
    for gpu in gpus:
        details = tf.config.experimental.get_device_details(gpu)
        capability = details.get("compute_capability")
        name = details.get("device_name", gpu.name)
        if capability:
            major, minor = capability
            helps = "mixed precision helps (tensor cores)" if major >= 7 else \
                "mixed precision will not help (no tensor cores before compute capability 7.0)"
            lines.append(f"{gpu.name}: {name}, compute capability {major}.{minor}: {helps}")
        else:
            lines.append(f"{gpu.name}: {name}")
    return lines


def tfds_lines():
    """The TFDS data folder and the datasets cached there."""
    folder = pathlib.Path(os.environ.get("TFDS_DATA_DIR", pathlib.Path.home() / "tensorflow_datasets"))
    if not folder.is_dir():
        return [f"TFDS data folder {folder}: does not exist yet (nothing downloaded; set TFDS_DATA_DIR to move it)"]
    cached = sorted(path.name for path in folder.iterdir() if path.is_dir() and not path.name.startswith("."))
    return [f"TFDS data folder {folder}: {len(cached)} datasets cached" + (f" ({', '.join(cached)})" if cached else "")]


def dataset_lines():
    """One line per real dataset: the folder it is read from, or that it is missing and how to get it."""
    from dlzoo.data import real

    lines = []
    for name, place in real.present().items():
        if place is None:
            lines.append(f"dataset {name}: not found on disk ({real.HOW_TO_GET[name]})")
        else:
            lines.append(f"dataset {name}: {place}")
    return lines


def runs_lines(runs_root=None):
    """The runs folder, its recipes and number of runs."""
    from dlzoo.runs import folders

    folder = pathlib.Path(runs_root or folders.DEFAULT_ROOT)
    if not folder.is_dir():
        return [f"runs folder {folder.resolve()}: none yet (dlzoo train creates it)"]
    recipes = [path for path in folder.iterdir() if path.is_dir()]
    count = sum(1 for recipe in recipes for run in recipe.iterdir() if folders.is_run_folder(run))
    return [f"runs folder {folder.resolve()}: {count} runs of {len(recipes)} recipes"]


def report_lines(runs_root=None):
    """Every line ``dlzoo doctor`` prints."""
    import keras
    import tensorflow as tf

    import dlzoo

    build = tf.sysconfig.get_build_info()
    cuda = build.get("cuda_version", "none")
    cudnn = build.get("cudnn_version", "none")
    lines = [f"dlzoo {dlzoo.__version__} · Python {platform.python_version()} on {platform.machine()} "
             f"({os.cpu_count()} CPU cores)",
             f"TensorFlow {tf.__version__} · Keras {keras.__version__} (backend {keras.backend.backend()}) · "
             f"built for CUDA {cuda or 'none'}, cuDNN {cudnn or 'none'}"]
    lines += gpu_lines()
    lines += tfds_lines()
    lines += dataset_lines()
    lines += runs_lines(runs_root)
    return lines
