"""Noise statistics of recurrent gate products (DESIGN §2), inside the Scan an LSTM/GRU becomes.

A gate product runs once per step on the state the previous (noisy) steps produced, so its
noise is checked where it is injected: the product's operand and output are exposed at every
step, and ``(y - x·Wᵀ) / σ(x)`` must be standard normal, σ coming from the independent numpy
reference (``reference.py``) evaluated on that run's own operand. Both runtimes are checked:
the :class:`Simulator` and the standalone annotated model run by stock onnxruntime.
"""

from __future__ import annotations

import copy

import numpy as np
import onnx
import pytest
from helpers import annotated, assert_standard_normal, plain_session, plan_for, tile_feed
from onnx import TensorProto, helper, numpy_helper
from recurrent_builders import Variant, feed, recurrent_model
from reference import terms

from analogc.passes import NoiseModel, expand_recurrent, infer_shapes, name_nodes
from analogc.passes.graph_index import GraphIndex
from analogc.passes.scopes import Exposer, locate
from analogc.runtime.simulate import Simulator

K_T, K_W, R_X = 0.1, 0.25, 2.5
NOISES = {
    "shot": NoiseModel(shot=True, k_t=K_T, k_w=K_W),
    "thermal": NoiseModel(thermal=True, k_t=K_T, k_w=K_W),
    "weight": NoiseModel(weight=True, k_t=K_T, k_w=K_W),
    "all": NoiseModel(shot=True, thermal=True, weight=True, k_t=K_T, k_w=K_W),
}
# An initial state: at step 0 the state is not all zero (shot noise would vanish there).
BASE = dict(layout=1, hidden=6, input_size=5, seq=4, batch=2, initial_h=True)
CASES = {
    "lstm_recurrent": (Variant(**BASE), "rec/recurrent_product"),
    "gru_reset": (Variant(op="GRU", **BASE), "rec/reset_product"),
    "lstm_reverse_recurrent_with_lengths": (
        Variant(direction="bidirectional", lens=True, **BASE),
        "rec/reverse/recurrent_product",
    ),
    "rnn_input": (Variant(op="RNN", **BASE), "rec/input_product"),
}
DRAWS = 2000  # per element: std bound 5/sqrt(4000) = 0.079


def _probed(v: Variant, layer: str) -> tuple[onnx.ModelProto, str, str, np.ndarray]:
    """The expanded model with ``layer``'s operand and output as graph outputs (one slice per
    step, stacked on axis 0, inside the Scan), and its weight."""
    model = infer_shapes(recurrent_model(v))
    expand_recurrent(model)
    model = infer_shapes(model)
    name_nodes(model)
    loc = locate(model)[layer]
    exposer = Exposer(model)
    x, _ = exposer.expose(loc.node.input[0], loc.scopes, TensorProto.FLOAT, 3 - len(loc.scopes))
    y, _ = exposer.expose(loc.node.output[0], loc.scopes, TensorProto.FLOAT, 3 - len(loc.scopes))
    weight = GraphIndex(model).constant(loc.node.input[1])
    assert weight is not None, f"{layer}: the weight should be a stored constant"
    return model, x, y, weight


def _sigma(x: np.ndarray, weight: np.ndarray, noise: NoiseModel, energy: float) -> np.ndarray:
    """DESIGN §2's std for ``x @ weight`` per element, from the numpy reference."""
    single = helper.make_model(
        helper.make_graph(
            [helper.make_node("MatMul", ["x", "W"], ["y"])],
            "single",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, None)],
            [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
            [numpy_helper.from_array(weight, "W")],
        )
    )
    return terms(single, {"x": x}).sigma(noise, r_x=R_X, energy=energy)


def _by_copy(a: np.ndarray, batch: int, copies: int) -> np.ndarray:
    """[copies, batch, step, column] from a product's [batch, step, column] (the input product)
    or its per-step values stacked by the Scan [step, batch, column]; the batch holds
    ``copies`` copies of the examples, copy-major."""
    axis = next(k for k, n in enumerate(a.shape) if n == copies * batch)
    a = np.moveaxis(a, axis, 0)
    return a.reshape(copies, batch, *a.shape[1:])


def _normalised(case: str, noise_name: str, runtime: str, repeats: int = 1) -> np.ndarray:
    v, layer = CASES[case]
    noise = NOISES[noise_name]
    model, x_name, y_name, weight = _probed(v, layer)
    plan = plan_for([layer], noise, repeats=repeats, r_x=R_X)
    names = [o.name for o in model.graph.output]
    if runtime == "simulator":
        sim = Simulator(model, plan, threads=1)
        scales = sim.scales(repeats)

        def run(inputs: dict[str, np.ndarray], k: int) -> list[np.ndarray]:
            return sim.run(inputs, scales=scales, seed=k, batch_index=0)
    else:
        session = plain_session(annotated(copy.deepcopy(model), plan))

        def run(inputs: dict[str, np.ndarray], k: int) -> list[np.ndarray]:
            return session.run(None, inputs)

    # Weight noise is shared by the batch of one run (fresh at every step): one copy per run.
    runs, copies = (DRAWS, 1) if noise.weight else (4, DRAWS // 4)
    inputs = tile_feed(feed(v), copies)
    z = []
    for k in range(runs):
        out = dict(zip(names, run(inputs, k), strict=True))
        x, y = out[x_name].astype(np.float64), out[y_name].astype(np.float64)
        sigma = _sigma(x, weight, noise, float(repeats))
        z.append(_by_copy((y - x @ weight.astype(np.float64)) / sigma, v.batch, copies))
    return np.concatenate(z)


@pytest.mark.parametrize("runtime", ["simulator", "standalone"])
@pytest.mark.parametrize("noise_name", list(NOISES))
@pytest.mark.parametrize("case", list(CASES))
def test_gate_product_noise_has_the_specified_std(case: str, noise_name: str, runtime: str) -> None:
    z = _normalised(case, noise_name, runtime)
    assert_standard_normal(
        z,
        independent=not NOISES[noise_name].weight,
        what=f"{case} {noise_name} ({runtime})",
        groups={f"step {t}": _step_mask(z.shape[1:], t) for t in range(CASES[case][0].seq)},
    )


def _step_mask(shape: tuple[int, ...], t: int) -> np.ndarray:
    """Elements of step t (the element axes are [batch, step, gate column])."""
    mask = np.zeros(shape, bool)
    mask[:, t] = True
    return mask


@pytest.mark.parametrize("runtime", ["simulator", "standalone"])
@pytest.mark.parametrize("repeats", [4, 16])
def test_gate_product_std_scales_as_one_over_sqrt_repeats(repeats: int, runtime: str) -> None:
    """Normalised by σ at E = N: still standard normal, so the std is σ(1)/sqrt(N)."""
    z = _normalised("lstm_recurrent", "all", runtime, repeats=repeats)
    assert_standard_normal(z, independent=False, what=f"repeats={repeats} ({runtime})")


def test_normalising_with_the_wrong_repeats_fails() -> None:
    """The check can fail: noise at N = 4 normalised by σ(N = 1) has std 1/2."""
    layer = CASES["lstm_recurrent"][1]
    z = _normalised("lstm_recurrent", "shot", "simulator", repeats=4) / 2.0  # σ(4) = σ(1)/2
    assert abs(z.std() - 0.5) < 0.05, z.std()
    with pytest.raises(AssertionError, match="std"):
        assert_standard_normal(z, independent=True, what=f"{layer} mis-scaled")
