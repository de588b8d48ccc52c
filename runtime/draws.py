"""Keyed standard-normal draws, reproducible whatever the thread count, and cheap.

A key (noise seed, batch index, layer position) fixes every draw of one layer. Each draw is
split into chunks of :data:`CHUNK` elements, each filled in place by a vectorised
counter-based generator (:func:`counter_normals`) under a key derived from ``(*key,
CHUNK_STREAM, draw, chunk)``. Chunks are independent jobs for a thread pool, small enough for
the temporaries to stay in cache, and their values depend only on the key, never on which
thread drew which chunk.

The generator hashes counters with SplitMix64 and reads each 64-bit hash as four 16-bit
indices into :func:`normal_table`, the means of the standard normal over 65,536 bins of equal
probability: a lookup per draw instead of numpy's ziggurat (about 5x slower here) or a
Box-Muller transform (``log``, ``sqrt``, ``cos``, ``sin``: about 2.5x slower). The draws are
discrete on 65,536 equally likely values, a distribution function within 1/65,536 of the
normal's everywhere, unit variance, kurtosis 2.9998 (the normal's: 3) and |z| at most 4.39
(a normal exceeds that with probability 1.1e-5: a layer of a million outputs draws some
eleven such tail values per run, each as ±4.39 here). ``bench/gaussians.py`` measures the sources.

The draws are the same on every machine: integer hashing and a lookup, no floating-point
kernels that differ between CPUs (the table is computed once in float64 and rounded to
float32).
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Callable, Sequence
from statistics import NormalDist

import numpy as np

CHUNK = 1 << 18
"""Elements per chunk: one chunk's uint64 hashes (~0.5 MB) and output stay in cache."""

CHUNK_STREAM = 0xC4A2
"""Separates the chunk streams' keys from the chip keys."""

TABLE_BITS = 16
"""Bits of hash per draw: the table has 2**TABLE_BITS values."""

Job = Callable[[], None]

_GAMMA = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64's increment (2^64 / golden ratio)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_PER_HASH = 64 // TABLE_BITS  # draws per 64-bit hash
_HASHES = -(-CHUNK // _PER_HASH)
_STEPS = np.arange(1, _HASHES + 1, dtype=np.uint64) * _GAMMA  # counter offsets from the key


@functools.cache
def normal_table() -> np.ndarray:
    """The 2**16 values a draw takes, equally likely: bin ``k`` of the standard normal
    between the quantiles ``k/M`` and ``(k+1)/M`` (M = 2**16) stands for its conditional mean
    ``M·(φ(a_k) − φ(a_(k+1)))``; then scaled to unit variance (the bins' means alone have
    variance 1 − 1.5e-6: the spread within bins, which they drop)."""
    m = 1 << TABLE_BITS
    normal = NormalDist()
    edges = [-math.inf] + [normal.inv_cdf(k / m) for k in range(1, m)] + [math.inf]
    density = np.array([0.0 if math.isinf(a) else normal.pdf(a) for a in edges])
    means = m * (density[:-1] - density[1:])
    means = (means - means[::-1]) / 2  # exactly antisymmetric: mean 0 to the last bit
    means /= math.sqrt(float(np.mean(means**2)))
    table: np.ndarray = means.astype(np.float32)
    table.flags.writeable = False
    return table


def keyed_normals(
    key: Sequence[int],
    shapes: Sequence[tuple[int, ...]],
    out: Sequence[np.ndarray] | None = None,
) -> tuple[list[np.ndarray], list[Job]]:
    """Float32 arrays of these shapes (``out`` when given: contiguous float32 arrays of these
    shapes, e.g. views of a buffer reused from run to run) and the jobs that fill them with
    standard normals, one job per chunk of each array.

    The arrays hold garbage until every job has run; jobs may run in any order, on any
    threads. The values depend only on ``key`` and ``shapes``.
    """
    arrays = list(out) if out is not None else [np.empty(shape, np.float32) for shape in shapes]
    jobs = [
        _chunk_job((*key, CHUNK_STREAM, i, c), a.reshape(-1)[start : start + CHUNK])
        for i, a in enumerate(arrays)
        for c, start in enumerate(range(0, a.size, CHUNK))
    ]
    return arrays, jobs


def counter_normals(key: int, out: np.ndarray) -> None:
    """Fill ``out`` (float32, 1-D, at most :data:`CHUNK` elements) with standard normals.

    Hash j is SplitMix64's output for counter ``key + (j + 1)·gamma``; its four 16-bit fields,
    least significant first, index :func:`normal_table` for draws ``4j`` to ``4j + 3``. The
    hashes and indices live in this thread's workspace: no allocation per chunk (each would be
    a fresh mapping, page-faulted in, when glibc's mmap threshold is fixed:
    analogc.runtime.memory).
    """
    hashes = -(-out.size // _PER_HASH)
    z, t, index = _workspace(hashes)
    np.add(_STEPS[:hashes], np.uint64(key), out=z)
    for shift, multiplier in ((30, _MIX1), (27, _MIX2), (31, None)):
        np.right_shift(z, np.uint64(shift), out=t)
        z ^= t
        if multiplier is not None:
            z *= multiplier
    fields = z.astype("<u8", copy=False).view("<u2")[: out.size]
    # np.take converts other index types to intp in a temporary of its own (a fresh mapping
    # per chunk under a fixed mmap threshold): convert into the workspace instead. mode="wrap":
    # every 16-bit index is in range, and numpy skips the bounds check (2x faster).
    np.copyto(index[: out.size], fields, casting="unsafe")
    np.take(normal_table(), index[: out.size], out=out, mode="wrap")


_local = threading.local()


def _workspace(hashes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """This thread's temporaries for one chunk (two uint64 hash arrays and the intp indices:
    3 MB), made on its first chunk."""
    if not hasattr(_local, "z"):
        _local.z = np.empty(_HASHES, np.uint64)
        _local.t = np.empty(_HASHES, np.uint64)
        _local.index = np.empty(CHUNK, np.intp)
    return _local.z[:hashes], _local.t[:hashes], _local.index


def _chunk_job(key: tuple[int, ...], out: np.ndarray) -> Job:
    def fill() -> None:
        seed = np.random.SeedSequence(list(key)).generate_state(1, np.uint64)[0]
        counter_normals(int(seed), out)

    return fill
