"""Keyed standard-normal draws, reproducible whatever the thread count.

A key (noise seed, batch index, layer position) fixes every draw of one layer. Layers with at
most :data:`CHUNKED_ABOVE` elements of noise draw from one PCG64 stream, ``default_rng(key)``,
draw after draw: the draws analogc has always made, so small models' results do not change.
Larger layers split each draw into chunks of :data:`CHUNK` elements, each filled in place by a
vectorised counter-based generator (:func:`counter_normals`: SplitMix64 of the element index
under a key derived from ``(*key, CHUNK_STREAM, draw, chunk)``, then Box-Muller in float32).
Chunks are independent jobs for a thread pool, small enough for the temporaries to stay in
cache, and their values depend only on the key, never on which thread drew which chunk.
``bench/gaussians.py`` measures the sources: on chunks of this size the counter-based
generator is the fastest measured (about 1.5-1.8x numpy's SFC64 there).

On one machine the draws are bit-identical run after run; across CPUs numpy's float32
``log``/``cos``/``sin`` may pick other SIMD kernels, so chunked draws can differ in the last
bit between machines (as onnxruntime's own figures can).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Sequence

import numpy as np

CHUNKED_ABOVE = 1 << 20
"""Layers with more noise elements than this draw in keyed chunks; others from one stream."""

CHUNK = 1 << 18
"""Elements per chunk: the uint64 and float32 temporaries of one chunk (~4 MB) stay in cache."""

CHUNK_STREAM = 0xC4A2
"""Separates the chunk streams' keys from the single-stream and chip keys."""

Job = Callable[[], None]

_GAMMA = np.uint64(0x9E3779B97F4A7C15)  # SplitMix64's increment (2^64 / golden ratio)
_INDEX = np.arange(1, CHUNK // 2 + 1, dtype=np.uint64)  # counters of one chunk's pairs
_STEPS = _INDEX * _GAMMA  # their offsets from the key (wrapping), the same for every chunk
_LOW, _HIGH = (0, 1) if sys.byteorder == "little" else (1, 0)  # uint32 halves of a uint64
_U24 = np.float32(2.0**-24)


def keyed_normals(
    key: Sequence[int],
    shapes: Sequence[tuple[int, ...]],
    out: Sequence[np.ndarray] | None = None,
) -> tuple[list[np.ndarray], list[Job]]:
    """Float32 arrays of these shapes (``out`` when given: contiguous float32 arrays of these
    shapes, e.g. views of a buffer reused from run to run) and the jobs that fill them with
    standard normals.

    The arrays hold garbage until every job has run; jobs may run in any order, on any
    threads. The values depend only on ``key`` and ``shapes``.
    """
    arrays = list(out) if out is not None else [np.empty(shape, np.float32) for shape in shapes]
    if sum(a.size for a in arrays) <= CHUNKED_ABOVE:
        return arrays, [lambda: _fill_in_turn(key, arrays)]
    jobs = [
        _chunk_job((*key, CHUNK_STREAM, i, c), a.reshape(-1)[start : start + CHUNK])
        for i, a in enumerate(arrays)
        for c, start in enumerate(range(0, a.size, CHUNK))
    ]
    return arrays, jobs


def counter_normals(key: int, out: np.ndarray) -> None:
    """Fill ``out`` (float32, 1-D, at most :data:`CHUNK` elements) with standard normals.

    Pair j takes SplitMix64's output for counter ``key + j·gamma``: its top 24 bits give
    ``u1`` in (0, 1], its low 24 bits the angle ``2π·u2``; Box-Muller turns the pair into
    ``r·cos`` (first half of ``out``) and ``r·sin`` (second half). The 24-bit ``u1`` bounds
    |z| by 5.77 (a normal exceeds that with probability 8e-9). The temporaries live in this
    thread's workspace: no allocation per chunk (each would be a fresh mapping, page-faulted
    in, when glibc's mmap threshold is fixed: analogc.runtime.memory).
    """
    half = (out.size + 1) // 2
    space = _workspace()
    z, t = space.z[:half], space.t[:half]
    r, angle = space.r[:half], space.angle[:half]
    np.add(_STEPS[:half], np.uint64(key), out=z)
    for shift, multiplier in ((30, _MIX1), (27, _MIX2), (31, None)):
        np.right_shift(z, np.uint64(shift), out=t)
        z ^= t
        if multiplier is not None:
            z *= multiplier
    # The 24-bit fields through the uint32 halves: converting uint64 to float32 is 4x slower
    halves, bits = z.view(np.uint32), t.view(np.uint32)[:half]
    np.right_shift(halves[_HIGH::2], np.uint32(8), out=bits)  # z >> 40
    np.copyto(r, bits, casting="unsafe")  # u1
    r += np.float32(1.0)
    r *= _U24
    np.log(r, out=r)
    r *= np.float32(-2.0)
    np.sqrt(r, out=r)
    np.bitwise_and(halves[_LOW::2], np.uint32(0xFFFFFF), out=bits)
    np.copyto(angle, bits, casting="unsafe")
    angle *= _U24 * np.float32(2 * np.pi)
    np.cos(angle, out=out[:half])
    out[:half] *= r
    rest = out.size - half
    np.sin(angle[:rest], out=out[half:])
    out[half:] *= r[:rest]


_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_local = threading.local()


def _workspace() -> threading.local:
    """This thread's temporaries for one chunk (about 3 MB), made on its first chunk."""
    if not hasattr(_local, "z"):
        _local.z = np.empty(CHUNK // 2, np.uint64)
        _local.t = np.empty(CHUNK // 2, np.uint64)
        _local.r = np.empty(CHUNK // 2, np.float32)
        _local.angle = np.empty(CHUNK // 2, np.float32)
    return _local


def _fill_in_turn(key: Sequence[int], arrays: Sequence[np.ndarray]) -> None:
    """One PCG64 stream, arrays in order: ``standard_normal(shape, float32)`` call by call."""
    rng = np.random.default_rng(list(key))
    for a in arrays:
        rng.standard_normal(out=a, dtype=np.float32)


def _chunk_job(key: tuple[int, ...], out: np.ndarray) -> Job:
    def fill() -> None:
        seed = np.random.SeedSequence(list(key)).generate_state(1, np.uint64)[0]
        counter_normals(int(seed), out)

    return fill
