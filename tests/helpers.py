"""Helpers shared by the tests: preparing models, plain onnxruntime sessions, noise checks."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping

import numpy as np
import onnx
import onnxruntime as ort

from analogc.passes import LayerPlan, NoiseModel, Plan, annotate, infer_shapes, name_nodes
from analogc.runtime.functions import FunctionLibrary

# Sample-size-justified bounds: for n independent N(0, 1) draws the sample mean has standard
# deviation 1/sqrt(n) and the sample standard deviation has standard deviation ~ 1/sqrt(2n).
# We allow 5 of those standard deviations (two-sided p ~ 6e-7 per check), so a correct
# implementation essentially never fails, while a wrong sigma (a missing factor, a dropped
# term, the wrong norm near a border) is off by far more than the bound.
N_SIGMAS = 5.0


def mean_bound(n: int) -> float:
    return N_SIGMAS / math.sqrt(n)


def std_bound(n: int) -> float:
    return N_SIGMAS * math.sqrt(1.0 / (2.0 * n))


def prepare(model: onnx.ModelProto) -> onnx.ModelProto:
    """A shape-inferred, node-named copy (what discovery, annotation and the simulator expect)."""
    model = infer_shapes(copy.deepcopy(model))
    name_nodes(model)
    return model


def opset_of(model: onnx.ModelProto) -> int:
    """The model's default-domain opset."""
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def plan_for(
    layers: list[str] | tuple[str, ...],
    noise: NoiseModel,
    *,
    repeats: int | Mapping[str, int] = 1,
    r_x: float = 1.0,
    e1: float = 1.0,
    seed: int = 0,
    **facts: object,
) -> Plan:
    """A plan for ``layers``; ``facts`` are further LayerPlan fields (converter ranges)."""
    reps = repeats if isinstance(repeats, Mapping) else dict.fromkeys(layers, repeats)
    return Plan(
        noise=noise,
        e1=e1,
        seed=seed,
        layers={
            name: LayerPlan(repeats=int(reps[name]), r_x=r_x, **facts)  # type: ignore[arg-type]
            for name in layers
        },
    )


def annotated(model: onnx.ModelProto, plan: Plan) -> onnx.ModelProto:
    """A deployable annotated copy of a prepared model."""
    out = copy.deepcopy(model)
    library = FunctionLibrary(noise=plan.noise, opset=opset_of(model), mode="standalone")
    annotate(out, plan, library)
    return out


def plain_session(model: onnx.ModelProto) -> ort.InferenceSession:
    """A stock onnxruntime session: no analogc code involved in running the model."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.log_severity_level = 3
    return ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def run_plain(model: onnx.ModelProto, feed: Mapping[str, np.ndarray]) -> list[np.ndarray]:
    return plain_session(model).run(None, dict(feed))


def tile_feed(feed: Mapping[str, np.ndarray], copies: int) -> dict[str, np.ndarray]:
    """``copies`` copies of the whole batch, stacked along the batch axis (copy-major);
    scalars (e.g. an If condition) are fed as they are."""
    return {k: np.concatenate([v] * copies, axis=0) if v.ndim else v for k, v in feed.items()}


def assert_standard_normal(
    z: np.ndarray,
    *,
    independent: bool,
    what: str,
    groups: Mapping[str, np.ndarray] | None = None,
) -> None:
    """Check that ``z`` (draws on axis 0, then one axis per output element) is N(0, 1).

    Args:
        z: normalised noise, ``(y_noisy - y_clean) / sigma_expected``.
        independent: True when different elements of one draw are independent (output
            noise); False when they share a weight-noise draw. Pooled checks then count only
            the draws (a conservative sample size: the variance of an average of correlated
            variables is at most the largest individual variance).
        what: a description for the failure messages.
        groups: label -> boolean mask over the element axes; each group is checked pooled.
    """
    n = z.shape[0]
    assert n >= 50, f"{what}: too few draws ({n}) for a statistical check"
    assert np.all(np.isfinite(z)), f"{what}: non-finite normalised noise"

    # Per element, over the draws.
    std_e, mean_e = z.std(axis=0), z.mean(axis=0)
    worst = _index(np.argmax(np.abs(std_e - 1)), std_e.shape)
    assert abs(std_e[worst] - 1) < std_bound(n), (
        f"{what}: element {worst} has noise std {std_e[worst]:.3f} x expected "
        f"(bound ±{std_bound(n):.3f} for {n} draws); per-element ratios range "
        f"{std_e.min():.3f}..{std_e.max():.3f}"
    )
    worst = _index(np.argmax(np.abs(mean_e)), mean_e.shape)
    assert abs(mean_e[worst]) < mean_bound(n), (
        f"{what}: element {worst} has noise mean {mean_e[worst]:.3f} sigma "
        f"(bound ±{mean_bound(n):.3f} for {n} draws)"
    )

    all_groups = {"all elements": np.ones(z.shape[1:], bool), **(groups or {})}
    for label, mask in all_groups.items():
        sel = z[:, mask]
        assert sel.size, f"{what}: group '{label}' is empty"
        n_eff = sel.size if independent else n
        std, mean = float(sel.std()), float(sel.mean())
        assert abs(std - 1) < std_bound(n_eff), (
            f"{what}, {label}: pooled noise std is {std:.4f} x expected "
            f"(bound ±{std_bound(n_eff):.4f} for {n_eff} independent draws)"
        )
        assert abs(mean) < mean_bound(n_eff), (
            f"{what}, {label}: pooled noise mean is {mean:.4f} sigma "
            f"(bound ±{mean_bound(n_eff):.4f} for {n_eff} independent draws)"
        )


def _index(flat: np.intp, shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(int(i) for i in np.unravel_index(flat, shape))


def border_groups(taps: np.ndarray) -> dict[str, np.ndarray]:
    """Element groups by how many (input, weight) pairs meet the input: borders vs interior."""
    values = np.unique(taps)
    if len(values) == 1:
        return {}
    groups = {f"elements with {v} taps meeting the input": taps == v for v in values}
    groups["interior (all taps)"] = taps == values.max()
    groups["border (some taps in padding)"] = taps < values.max()
    return groups


def sigma_groups(sigma: np.ndarray, bins: int = 4) -> dict[str, np.ndarray]:
    """Elements split into ``bins`` groups by expected sigma (quantiles)."""
    edges = np.quantile(sigma, np.linspace(0, 1, bins + 1))
    groups = {}
    for i in range(bins):
        upper = sigma <= edges[i + 1] if i == bins - 1 else sigma < edges[i + 1]
        mask = (sigma >= edges[i]) & upper
        if mask.any():
            groups[f"sigma quantile bin {i} [{edges[i]:.3g}, {edges[i + 1]:.3g}]"] = mask
    return groups


def channel_groups(shape: tuple[int, ...], channel_axis: int) -> dict[str, np.ndarray]:
    """One group per output channel (element axes only, batch first)."""
    groups = {}
    for c in range(shape[channel_axis]):
        mask = np.zeros(shape, bool)
        index = [slice(None)] * len(shape)
        index[channel_axis] = c
        mask[tuple(index)] = True
        groups[f"output channel {c}"] = mask
    return groups


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a = np.asarray(a, np.float64).ravel()
    b = np.asarray(b, np.float64).ravel()
    return float(np.corrcoef(a, b)[0, 1])
