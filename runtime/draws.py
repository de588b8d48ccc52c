"""Keyed standard-normal draws, reproducible whatever the thread count.

A key (noise seed, batch index, layer position) fixes every draw of one layer. Layers with at
most :data:`CHUNK` elements of noise draw from one PCG64 stream, ``default_rng(key)``, draw
after draw: the draws analogc has always made, so small models' results do not change. Larger
layers split each draw into chunks of :data:`CHUNK` elements, chunk ``c`` of draw ``i`` drawn
from its own SFC64 stream keyed ``(*key, CHUNK_STREAM, i, c)``: chunks are independent jobs for
a thread pool, each written in place into the float32 input array (no temporary), and the
values depend only on the key, never on which thread drew which chunk or in what order.
``bench/gaussians.py`` measures the sources (SFC64 is numpy's fastest bit generator there).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

CHUNK = 1 << 20
"""Elements per chunk, and the most a layer may draw from its single legacy stream."""

CHUNK_STREAM = 0xC4A2
"""Separates the chunk streams' keys from the single-stream and chip keys."""

Job = Callable[[], None]


def keyed_normals(
    key: Sequence[int], shapes: Sequence[tuple[int, ...]]
) -> tuple[list[np.ndarray], list[Job]]:
    """Float32 arrays of these shapes and the jobs that fill them with standard normals.

    The arrays hold garbage until every job has run; jobs may run in any order, on any
    threads. The values depend only on ``key`` and ``shapes``.
    """
    arrays = [np.empty(shape, np.float32) for shape in shapes]
    if sum(a.size for a in arrays) <= CHUNK:
        return arrays, [lambda: _fill_in_turn(key, arrays)]
    jobs = [
        _chunk_job((*key, CHUNK_STREAM, i, c), a.reshape(-1)[start : start + CHUNK])
        for i, a in enumerate(arrays)
        for c, start in enumerate(range(0, a.size, CHUNK))
    ]
    return arrays, jobs


def _fill_in_turn(key: Sequence[int], arrays: Sequence[np.ndarray]) -> None:
    """One PCG64 stream, arrays in order: ``standard_normal(shape, float32)`` call by call."""
    rng = np.random.default_rng(list(key))
    for a in arrays:
        rng.standard_normal(out=a, dtype=np.float32)


def _chunk_job(key: tuple[int, ...], out: np.ndarray) -> Job:
    def fill() -> None:
        np.random.Generator(np.random.SFC64(list(key))).standard_normal(out=out, dtype=np.float32)

    return fill
