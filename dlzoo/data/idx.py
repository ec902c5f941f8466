"""The IDX file format of MNIST, Fashion-MNIST, KMNIST and EMNIST, read with NumPy only.

An IDX file (LeCun's format, http://yann.lecun.com/exdb/mnist/) is a header then the values:

* the magic number, 4 bytes: two zero bytes, a type code (``0x08`` unsigned byte, ``0x09``
  signed byte, ``0x0B`` int16, ``0x0C`` int32, ``0x0D`` float32, ``0x0E`` float64) and the
  number of dimensions (1 for labels, 3 for images);
* one big-endian unsigned 32-bit size per dimension (``60000, 28, 28``);
* the values, big-endian, row-major: exactly the product of the sizes of them.

Files may be gzipped (``.gz``, as they are distributed). A folder of MNIST-format data holds
four of them: training and test images (``idx3``) and labels (``idx1``). Every way a file can be
broken (truncated download, wrong file, images and labels of different counts) is a
:class:`~dlzoo.core.errors.UsageError` that names the file and says what is wrong.
"""

import gzip
import pathlib

import numpy as np

from dlzoo.core.errors import UsageError

# Type code of the magic number -> the big-endian dtype of the values.
TYPE_CODES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

# The four files of a folder: (split, what) -> the words a file name contains.
ROLES = {("train", "images"): ("train", "idx3"), ("train", "labels"): ("train", "idx1"),
         ("test", "images"): ("t10k", "idx3"), ("test", "labels"): ("t10k", "idx1")}


def read_bytes(path):
    """The bytes of ``path``, un-gzipped when its name ends in ``.gz`` (a broken gzip is a UsageError)."""
    path = pathlib.Path(path)
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as stream:
                return stream.read()
        return path.read_bytes()
    except (OSError, EOFError) as error:  # gzip.BadGzipFile is an OSError; EOFError: a cut-off .gz
        raise UsageError(f"{path}: cannot read it ({type(error).__name__}: {error}); download it again") from None


def parse_idx(content, name="IDX data"):
    """The array stored in IDX bytes ``content`` (native byte order); ``name`` goes into the errors."""
    if len(content) < 4 or content[0] != 0 or content[1] != 0 or content[2] not in TYPE_CODES:
        raise UsageError(f"{name} is not an IDX file (magic number {content[:4].hex() or 'missing'}; "
                         "expected 0000 then a type code such as 08 and the number of dimensions)")
    dtype = np.dtype(TYPE_CODES[content[2]])
    dimensions = content[3]
    header_size = 4 + 4 * dimensions
    if dimensions == 0 or len(content) < header_size:
        raise UsageError(f"{name}: truncated IDX header ({len(content)} bytes, {dimensions} dimensions need "
                         f"{header_size})")
    shape = tuple(int(size) for size in np.frombuffer(content, dtype=">u4", count=dimensions, offset=4))
    expected = int(np.prod(shape)) * dtype.itemsize
    found = len(content) - header_size
    if found < expected:
        raise UsageError(f"{name} is truncated: shape {shape} needs {expected} bytes of values, the file has "
                         f"{found}; download it again")
    if found > expected:
        raise UsageError(f"{name}: {found - expected} bytes after the {expected} bytes of values its header "
                         f"declares (shape {shape}); not an IDX file, or a damaged one")
    values = np.frombuffer(content, dtype=dtype, offset=header_size).reshape(shape)
    return values.astype(dtype.newbyteorder("="), copy=False)


def read_idx(path):
    """The array in the IDX file ``path`` (gzipped or not)."""
    return parse_idx(read_bytes(path), str(path))


def write_idx(path, array):
    """Write ``array`` as an IDX file (gzipped when ``path`` ends in ``.gz``): fixtures and exercises."""
    array = np.asarray(array)
    codes = {np.dtype(dtype).newbyteorder("="): code for code, dtype in TYPE_CODES.items()}
    code = codes.get(array.dtype)
    if code is None:
        raise ValueError(f"array dtype {array.dtype} has no IDX type code; use one of uint8, int8, int16, int32, "
                         "float32, float64")
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    content = header + array.astype(np.dtype(TYPE_CODES[code]), copy=False).tobytes()
    path = pathlib.Path(path)
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as stream:
            stream.write(content)
    else:
        path.write_bytes(content)


def find_files(folder):
    """``{(split, what): path}`` of the four IDX files in ``folder``, or ``None`` when one is missing.

    A file plays a role when its name holds the role's words: ``train`` / ``t10k`` (or ``test``)
    and ``idx3`` (images) / ``idx1`` (labels), so MNIST's, Fashion-MNIST's, KMNIST's and
    EMNIST's names (``emnist-digits-train-images-idx3-ubyte.gz``) are all found. Two files for
    one role are a UsageError (which one was meant?).
    """
    folder = pathlib.Path(folder)
    if not folder.is_dir():
        return None
    names = sorted(path for path in folder.iterdir() if path.is_file() and "idx" in path.name)
    found = {}
    for role, (split_word, format_word) in ROLES.items():
        split_words = (split_word, "test") if split_word == "t10k" else (split_word,)
        matches = [path for path in names if format_word in path.name
                   and any(word in path.name for word in split_words)]
        # One file gzipped and not: the same data twice; prefer the unpacked one.
        unpacked = {path.name.removesuffix(".gz") for path in matches}
        if len(unpacked) > 1:
            raise UsageError(f"{folder} has {len(unpacked)} files for the {role[0]} {role[1]} "
                             f"({', '.join(sorted(unpacked))}); keep one dataset per folder")
        if not matches:
            return None
        found[role] = min(matches, key=lambda path: path.suffix == ".gz")
    return found


def load_folder(folder):
    """``(x_train, y_train, x_test, y_test)`` from the four IDX files of ``folder``, checked for consistency."""
    files = find_files(folder)
    if files is None:
        raise UsageError(f"{folder} does not hold the four IDX files of MNIST-format data "
                         "(train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, "
                         "t10k-labels-idx1-ubyte, each optionally .gz)")
    arrays = {role: read_idx(path) for role, path in files.items()}
    for split in ("train", "test"):
        images, labels = arrays[(split, "images")], arrays[(split, "labels")]
        images_path, labels_path = files[(split, "images")], files[(split, "labels")]
        if images.ndim != 3:
            raise UsageError(f"{images_path}: images must have 3 dimensions (count, height, width), "
                             f"found shape {images.shape}")
        if labels.ndim != 1 or labels.dtype.kind not in "iu":
            raise UsageError(f"{labels_path}: labels must be one integer per image, found shape {labels.shape} "
                             f"of {labels.dtype}")
        if len(images) != len(labels):
            raise UsageError(f"{images_path.name} has {len(images)} images but {labels_path.name} has "
                             f"{len(labels)} labels")
    if arrays[("train", "images")].shape[1:] != arrays[("test", "images")].shape[1:]:
        raise UsageError(f"{folder}: training images are {arrays[('train', 'images')].shape[1:]} but test images "
                         f"{arrays[('test', 'images')].shape[1:]}")
    return (arrays[("train", "images")], arrays[("train", "labels")],
            arrays[("test", "images")], arrays[("test", "labels")])
