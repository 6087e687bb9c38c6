"""Dropping known, harmless lines that TensorFlow's C++ code writes straight to stderr.

TensorFlow logs from C++ to file descriptor 2, before (and outside) Python's logging and its own
``TF_CPP_MIN_LOG_LEVEL``, so the only way to keep such a line out of a user's log is to capture
the descriptor around the call that writes it. Only the exact lines named are dropped; every
other line is written back, so a real problem still shows. Imports nothing heavy: it must be
usable before TensorFlow is.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

# Written while ``import tensorflow`` runs, on every machine: facts about the build, not problems.
# (On a machine without a GPU the CPU fact is in vizcore's own "computes on" line instead.)
TENSORFLOW_IMPORT_LINES = (
    "All log messages before absl::InitializeLog() is called are written to STDERR",
    "oneDNN custom operations are on",
    "Could not find cuda drivers on your machine, GPU will not be used",
    "This TensorFlow binary is optimized to use available CPU instructions",
    "To enable the following instructions:",
)


@contextlib.contextmanager
def without_lines(*markers: str):
    """Run the body with file descriptor 2 captured, then write back every line containing none of ``markers``.

    Lines other threads write meanwhile come out after the body instead of during it; none are lost.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            encoded = [marker.encode() for marker in markers]
            kept = [line for line in captured.read().splitlines(keepends=True) if not any(m in line for m in encoded)]
            if kept:
                os.write(2, b"".join(kept))
