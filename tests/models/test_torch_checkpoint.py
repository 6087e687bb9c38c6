import os
import pickle
import struct

import numpy as np
import pytest

from vizcore.errors import VizcoreError
from vizcore.models.efficientnet_lite import checkpoint_path
from vizcore.models.torch_checkpoint import LEGACY_MAGIC_NUMBER, read_legacy_state_dict


def test_reads_every_tensor_of_the_shipped_checkpoint():
    state = read_legacy_state_dict(checkpoint_path())
    assert len(state) == 296
    float_parameters = sum(array.size for array in state.values() if array.dtype == np.float32)
    assert float_parameters == 4_694_024
    assert state["_conv_stem.weight"].shape == (32, 3, 3, 3)
    assert state["_fc.weight"].shape == (1000, 1280)
    assert state["_bn0.num_batches_tracked"].dtype == np.int64
    assert np.isfinite(state["_fc.weight"]).all() and state["_fc.weight"].std() > 0.01


def _legacy_file(path, payload_pickle: bytes):
    with open(path, "wb") as stream:
        for header in (LEGACY_MAGIC_NUMBER, 1001, {"little_endian": True}):
            pickle.dump(header, stream, protocol=2)
        stream.write(payload_pickle)


class _RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_refuses_a_pickle_that_imports_anything_else(tmp_path):
    marker = tmp_path / "pwned"
    hostile = tmp_path / "hostile.pth"
    _legacy_file(hostile, pickle.dumps({"weight": _RunsCommand(marker)}, protocol=2))
    with pytest.raises(VizcoreError, match="posix.system|os.system|never needs"):
        read_legacy_state_dict(str(hostile))
    assert not marker.exists()


def test_truncated_checkpoint_is_a_clear_error(tmp_path):
    data = open(checkpoint_path(), "rb").read()
    cut = tmp_path / "cut.pth"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(VizcoreError, match="damaged"):
        read_legacy_state_dict(str(cut))


def test_wrong_magic_number_is_refused(tmp_path):
    path = tmp_path / "other.pth"
    path.write_bytes(pickle.dumps(12345, protocol=2) + struct.pack("<q", 0))
    with pytest.raises(VizcoreError, match="not a legacy PyTorch checkpoint"):
        read_legacy_state_dict(str(path))
