"""The neighbour search's compiled kernels (neighbours.py): quantise rows to int8, scan them, rescore exactly.

numba compiles each on first use and caches it on disk. Kept in its own module so that
importing vizcore does not import numba. numba's fallback thread pool ("workqueue", used when
neither TBB nor OpenMP is installed) aborts the process if two threads launch parallel kernels
at once, and the app serves sessions from many threads, so callers hold ``LOCK`` around each
call (each call uses every core anyway).
"""

import threading

import numpy as np
from numba import njit, prange

LOCK = threading.Lock()


@njit(parallel=True, fastmath=True, cache=True, nogil=True)
def scan(codes, scales, offsets, query, query_sum):  # pragma: no cover (compiled)
    """``offsets[i] * query_sum + scales[i] * (codes[i] . query)`` for every row i: N float32 scores.

    ``codes``: N x D int8; ``scales``, ``offsets``: N float32; ``query``: D float32; ``query_sum``:
    the sum of ``query``. Sums run in float32.
    """
    rows, width = codes.shape
    scores = np.empty(rows, np.float32)
    for block in prange((rows + 3) // 4):  # four rows per pass over the query, which stays in cache
        first = block * 4
        if first + 4 <= rows:
            a = np.float32(0)
            b = np.float32(0)
            c = np.float32(0)
            d = np.float32(0)
            for j in range(width):
                value = query[j]
                a += np.float32(codes[first, j]) * value
                b += np.float32(codes[first + 1, j]) * value
                c += np.float32(codes[first + 2, j]) * value
                d += np.float32(codes[first + 3, j]) * value
            scores[first] = a * scales[first] + offsets[first] * query_sum
            scores[first + 1] = b * scales[first + 1] + offsets[first + 1] * query_sum
            scores[first + 2] = c * scales[first + 2] + offsets[first + 2] * query_sum
            scores[first + 3] = d * scales[first + 3] + offsets[first + 3] * query_sum
        else:
            for row in range(first, rows):
                total = np.float32(0)
                for j in range(width):
                    total += np.float32(codes[row, j]) * query[j]
                scores[row] = total * scales[row] + offsets[row] * query_sum
    return scores


# 2^(e - 25) for a float16 exponent field e (1..30), and 2^-24 for e = 0 (subnormals): value = (mantissa + implicit
# bit) * scale, exactly.
_FLOAT16_SCALE = np.array([2.0 ** (max(exponent, 1) - 25) for exponent in range(32)])


@njit(parallel=True, fastmath=True, cache=True, nogil=True)
def rescore(rows16, chosen, query):  # pragma: no cover (compiled)
    """``rows16[i] . query`` in float64 for each i in ``chosen``: the scores of float16 rows, to about 1e-13.

    ``rows16``: N x D float16 rows viewed as uint16 (numba has no float16); ``chosen``: int64 row
    numbers; ``query``: D float64. Each float16 is decoded exactly and each product is exact in
    float64, so only the 1280-term float64 sum rounds.
    """
    width = rows16.shape[1]
    scale = _FLOAT16_SCALE
    scores = np.empty(len(chosen), np.float64)
    for position in prange(len(chosen)):
        row = chosen[position]
        total = 0.0
        for j in range(width):
            bits = np.int64(rows16[row, j])
            exponent = (bits >> 10) & 0x1F
            magnitude = np.float64((bits & 0x3FF) + (1024 if exponent != 0 else 0)) * scale[exponent]
            total += (1.0 - 2.0 * (bits >> 15)) * magnitude * query[j]
        scores[position] = total
    return scores


@njit(parallel=True, fastmath=False, cache=True, nogil=True)
def quantise(rows, levels, rounding_unit, slack):  # pragma: no cover (compiled)
    """Each float32 row as ``offset + scale * code``, codes in -levels..levels spanning the row's min..max.

    Returns (codes int8, scales, offsets, bounds), bounds being the most the scan's score of the
    row can be off for a unit query: the residual's norm, plus ``rounding_unit`` times D times
    the sums the scan adds up, plus ``slack``.
    """
    count, width = rows.shape
    codes = np.empty((count, width), np.int8)
    scales = np.empty(count, np.float32)
    offsets = np.empty(count, np.float32)
    bounds = np.empty(count, np.float32)
    for i in prange(count):
        low = rows[i, 0]
        high = rows[i, 0]
        for j in range(width):
            low = min(low, rows[i, j])
            high = max(high, rows[i, j])
        offset = np.float32((low + high) / 2)
        scale = np.float32((high - low) / (2 * levels))
        if scale <= 0:
            scale = np.float32(1)
        residual = 0.0
        code_norm = 0.0
        for j in range(width):
            code = min(max(np.rint((rows[i, j] - offset) / scale), -levels), levels)
            codes[i, j] = np.int8(code)
            restored = np.float32(code) * scale + offset
            residual += (np.float64(rows[i, j]) - np.float64(restored)) ** 2
            code_norm += code * code
        rounding = width * rounding_unit * (scale * np.sqrt(code_norm) + abs(offset) * np.sqrt(width))
        bounds[i] = np.sqrt(residual) + rounding + slack
        scales[i] = scale
        offsets[i] = offset
    return codes, scales, offsets, bounds
