"""Read a legacy (pre-zip) PyTorch ``.pth`` state dict into numpy arrays, without torch.

The legacy format is a sequence of pickles (magic number, protocol version, system info, the
state dict whose tensors point at storages by key, the list of storage keys) followed by the
raw little-endian storages, each preceded by its element count as int64.

The pickle is read with an unpickler that only rebuilds the handful of classes a state dict
needs, so a hostile file cannot import or call anything else.
"""

from __future__ import annotations

import collections
import io
import pickle
import struct
from dataclasses import dataclass

import numpy as np

from vizcore.errors import VizcoreError

LEGACY_MAGIC_NUMBER = 0x1950A86A20F9469CFC6C

_STORAGE_DTYPES = {
    "FloatStorage": np.float32,
    "DoubleStorage": np.float64,
    "HalfStorage": np.float16,
    "LongStorage": np.int64,
    "IntStorage": np.int32,
    "ShortStorage": np.int16,
    "CharStorage": np.int8,
    "ByteStorage": np.uint8,
    "BoolStorage": np.bool_,
}


@dataclass(frozen=True)
class _StorageType:
    dtype: type


@dataclass
class _StorageRef:
    key: str
    dtype: type
    numel: int


@dataclass
class _TensorRef:
    storage: _StorageRef
    offset: int
    shape: tuple[int, ...]
    strides: tuple[int, ...]


def _rebuild_tensor(storage, storage_offset, size, stride, *_ignored):
    return _TensorRef(storage, int(storage_offset), tuple(size), tuple(stride))


def _rebuild_parameter(tensor, *_ignored):
    return tensor


class _StateDictUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        if module == "torch._utils" and name == "_rebuild_tensor_v2":
            return _rebuild_tensor
        if module == "torch._utils" and name == "_rebuild_parameter":
            return _rebuild_parameter
        if module == "torch" and name in _STORAGE_DTYPES:
            return _StorageType(_STORAGE_DTYPES[name])
        raise VizcoreError(f"The checkpoint asks for {module}.{name}, which a plain weight file never needs.")

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise VizcoreError("The checkpoint holds an object that is not a tensor storage.")
        _, storage_type, key, _location, numel = pid[:5]
        if not isinstance(storage_type, _StorageType):
            raise VizcoreError("The checkpoint names a storage type that is not supported.")
        return _StorageRef(str(key), storage_type.dtype, int(numel))


def _load_pickle(stream: io.BufferedIOBase):
    return _StateDictUnpickler(stream).load()


def read_legacy_state_dict(path: str) -> dict[str, np.ndarray]:
    """Return the tensors of a legacy torch state dict as ``{name: numpy array}`` (copies).

    Raises VizcoreError when the file is not a legacy torch checkpoint or is truncated.
    """
    try:
        with open(path, "rb") as stream:
            if _load_pickle(stream) != LEGACY_MAGIC_NUMBER:
                raise VizcoreError(f"{path} is not a legacy PyTorch checkpoint.")
            _load_pickle(stream)  # protocol version
            _load_pickle(stream)  # system info
            state = _load_pickle(stream)
            storage_keys = _load_pickle(stream)
            storages = _read_storages(stream, storage_keys, state)
    except (pickle.UnpicklingError, EOFError, struct.error, ValueError) as error:
        raise VizcoreError(f"{path} is damaged or not a PyTorch checkpoint ({type(error).__name__}).") from error
    return {name: _materialise(ref, storages) for name, ref in state.items()}


def _read_storages(stream, storage_keys, state) -> dict[str, np.ndarray]:
    refs = {}
    for ref in state.values():
        if not isinstance(ref, _TensorRef):
            raise VizcoreError("The checkpoint holds something other than tensors.")
        refs[ref.storage.key] = ref.storage
    storages = {}
    for key in storage_keys:
        ref = refs[key]
        (numel,) = struct.unpack("<q", stream.read(8))
        item_size = np.dtype(ref.dtype).itemsize
        raw = stream.read(numel * item_size)
        if len(raw) != numel * item_size:
            raise EOFError("storage cut short")
        storages[key] = np.frombuffer(raw, dtype=np.dtype(ref.dtype).newbyteorder("<"))
    return storages


def _materialise(ref: _TensorRef, storages: dict[str, np.ndarray]) -> np.ndarray:
    flat = storages[ref.storage.key]
    item_size = flat.itemsize
    view = np.lib.stride_tricks.as_strided(
        flat[ref.offset:],
        shape=ref.shape,
        strides=tuple(s * item_size for s in ref.strides),
        writeable=False,
    )
    return np.array(view, dtype=view.dtype.newbyteorder("="))
