"""The ``ai.analogc`` function library: ONNX function bodies that make the custom ops runnable.

Each analog op family (AnalogMatMul, AnalogMatVec, AnalogEinsum, AnalogGemm, AnalogConv,
AnalogGroupConv, AnalogConvTranspose, AnalogGroupConvTranspose) is an ONNX local function built
from standard ops, so stock onnxruntime runs the annotated model with no extension. The noise
follows DESIGN §2 exactly:

* scale ``s = 1/sqrt(repeats · e1)``; every term's std is its E = 1 value times ``s``;
* shot: ``σ = ‖x_(i)‖·‖w_i‖/sqrt(D)``; thermal: ``σ = k_t·r_w,i·r_x·sqrt(D)``; one Gaussian
  per output element carries both (their variances add);
* weight: ``W += ε·k_w·r_w,i``, one draw per run, before the product.

``D`` is the node's ``fan_in`` attribute. A MatMul or Einsum whose contraction length is only
known at run time (attention's ``A·V`` contracts over a dynamic sequence axis) lowers to a
``DynK`` variant (``AnalogMatMulDynK``, ``AnalogMatVecDynK``, ``AnalogEinsumDynK``): the same
body, but ``D`` is computed from the operands' run-time shapes (``Shape`` → ``Gather`` of the
contracted axes → ``Cast`` → product), so the noise is exact for every sequence length, and the
node carries no ``fan_in`` attribute (the annotated node's ``pkg.analogc.fan_in`` metadata says
where D comes from instead).

Weight statistics (norms, ranges, border-aware tap norms) are computed in the body from ``W``;
for constant weights onnxruntime folds them at session start, so they cost nothing per run.

Operands of another floating type (float16, bfloat16, float64) get a variant of each family
(``AnalogMatMulF16``, ...): the product keeps the model's type, while the norms, ranges, sigma
and the draws are computed in float32 and the noise cast back once, added to the output, so
that small variances do not underflow (float16's smallest normal is 6e-5: a variance of 1e-6
would vanish).

Two modes share one builder. ``standalone`` reads repeats and seeds from node attributes and
draws ε with RandomNormalLike (the artifact users deploy). ``simulate`` takes the scale and the
ε tensors as inputs, so one session serves every repeats configuration with common random
numbers; with ``stats`` it also returns the mean output-referred noise variance at E = 1.
A ``pooled`` simulate variant (for ops inside If/Loop/Scan bodies) takes flat pools of draws
and an int64 ``offset`` (the iteration), and uses the pool's values from ``offset × size`` on,
wrapping around.

This module needs only ``onnx``: :func:`analogc.passes.annotate` receives a library instance.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, helper, numpy_helper

from analogc.passes.plan import NoiseModel

__all__ = ["DOMAIN", "DTYPE_SUFFIX", "FAMILIES", "SIM_DOMAIN", "FunctionLibrary"]

DOMAIN = "ai.analogc"
SIM_DOMAIN = "ai.analogc.sim"

_CONV_ATTRS = ["auto_pad", "dilations", "group", "kernel_shape", "pads", "strides"]
_CONTRACTION_ATTRS = ("x_axes", "w_axes", "x_perm", "x_unsq", "w_perm", "w_unsq")
_ATTR_TYPES = {
    "auto_pad": AttributeProto.STRING,
    "equation": AttributeProto.STRING,
    "alpha": AttributeProto.FLOAT,
    "beta": AttributeProto.FLOAT,
    "transA": AttributeProto.INT,
    "transB": AttributeProto.INT,
    "repeats": AttributeProto.INT,
    "group": AttributeProto.INT,
    "e1": AttributeProto.FLOAT,
    "fan_in": AttributeProto.FLOAT,
    "k_t": AttributeProto.FLOAT,
    "r_x": AttributeProto.FLOAT,
    "k_w": AttributeProto.FLOAT,
    "seed_y": AttributeProto.FLOAT,
    "seed_w": AttributeProto.FLOAT,
}  # every other attribute used here is a list of ints


@dataclass(frozen=True)
class _Family:
    """A function's inputs and op attributes; ``base``: for a ``DynK`` variant, the family
    whose body it shares (with D computed from the operands' shapes, not read from
    ``fan_in``)."""

    inputs: tuple[str, ...]
    op_attrs: tuple[str, ...]
    base: str | None = None


FAMILIES: dict[str, _Family] = {
    "AnalogMatMul": _Family(("X", "W"), ()),
    "AnalogMatVec": _Family(("X", "W"), _CONTRACTION_ATTRS),
    "AnalogEinsum": _Family(("X", "W"), ("equation", *_CONTRACTION_ATTRS)),
    "AnalogMatMulDynK": _Family(("X", "W"), (), base="AnalogMatMul"),
    "AnalogMatVecDynK": _Family(("X", "W"), _CONTRACTION_ATTRS, base="AnalogMatVec"),
    "AnalogEinsumDynK": _Family(("X", "W"), ("equation", *_CONTRACTION_ATTRS), base="AnalogEinsum"),
    "AnalogGemm": _Family(
        ("X", "W", "C"), ("alpha", "beta", "transA", "transB", "x_axes", "w_axes")
    ),
    "AnalogConv": _Family(("X", "W", "B", "mask_shape", "ones_shape"), (*_CONV_ATTRS, "w_axes")),
    "AnalogGroupConv": _Family(
        ("X", "W", "B", "mask_shape", "ones_shape", "group_index"), (*_CONV_ATTRS, "w_axes")
    ),
    "AnalogConvTranspose": _Family(
        ("X", "W", "B", "mask_shape", "ones_shape"),
        (*_CONV_ATTRS, "output_padding", "output_shape", "w_axes"),
    ),
    "AnalogGroupConvTranspose": _Family(
        (
            "X",
            "W",
            "B",
            "mask_shape",
            "ones_shape",
            "group_index",
            "w_group_shape",
            "channel_shape",
        ),
        (*_CONV_ATTRS, "output_padding", "output_shape", "w_axes"),
    ),
}

_CONTRACTIONS = ("AnalogMatVec", "AnalogEinsum")
_CONV_TRANSPOSES = ("AnalogConvTranspose", "AnalogGroupConvTranspose")
_ONE_F32 = numpy_helper.from_array(np.ones(1, np.float32))

DTYPE_SUFFIX = {
    TensorProto.FLOAT: "",
    TensorProto.FLOAT16: "F16",
    TensorProto.BFLOAT16: "BF16",
    TensorProto.DOUBLE: "F64",
}
"""Function-name suffix of each operand type's variant."""


def _ref(name: str, ref: str) -> AttributeProto:
    attr = AttributeProto()
    attr.name = name
    attr.ref_attr_name = ref
    attr.type = _ATTR_TYPES.get(ref, AttributeProto.INTS)
    return attr


class _Body:
    """Appends nodes to a function body, naming each output uniquely."""

    def __init__(self, opset: int) -> None:
        self.opset = opset
        self.nodes: list[onnx.NodeProto] = []

    def op(
        self, op_type: str, *inputs: str, refs: dict[str, str] | None = None, **attrs: object
    ) -> str:
        out = f"t{len(self.nodes)}_{op_type}"
        node = helper.make_node(op_type, list(inputs), [out], **attrs)
        for name, ref in (refs or {}).items():
            node.attribute.append(_ref(name, ref))
        self.nodes.append(node)
        return out

    def const(self, value: float | list[int]) -> str:
        """A literal: a float scalar, or an int64 vector."""
        if isinstance(value, list):
            return self.op("Constant", value=numpy_helper.from_array(np.asarray(value, np.int64)))
        return self.op("Constant", value=numpy_helper.from_array(np.asarray(value, np.float32)))

    def slice(self, x: str, start: int, end: int | None = None) -> str:
        """x[start:end] along axis 0 (opset-appropriate Slice)."""
        stop = np.iinfo(np.int64).max if end is None else end
        if self.opset >= 10:
            return self.op("Slice", x, self.const([start]), self.const([stop]), self.const([0]))
        return self.op("Slice", x, starts=[start], ends=[stop], axes=[0])

    def attr_float(self, ref: str) -> str:
        return self.op("Constant", refs={"value_float": ref})

    def attr_int_as_float(self, ref: str) -> str:
        return self.op("Cast", self.op("Constant", refs={"value_int": ref}), to=TensorProto.FLOAT)

    def reduce(self, op_type: str, x: str, axes: list[int] | str, keepdims: int = 1) -> str:
        """Reduce over literal axes or the axes held by attribute ``axes`` (a str ref)."""
        if self.opset >= 18:
            ax = (
                self.op("Constant", refs={"value_ints": axes})
                if isinstance(axes, str)
                else self.const(axes)
            )
            return self.op(op_type, x, ax, keepdims=keepdims)
        if isinstance(axes, str):
            return self.op(op_type, x, refs={"axes": axes}, keepdims=keepdims)
        return self.op(op_type, x, axes=axes, keepdims=keepdims)

    def const_i64(self, value: int) -> str:
        """An int64 scalar literal."""
        return self.op("Constant", value=numpy_helper.from_array(np.asarray(value, np.int64)))

    def squeeze(self, x: str, axes: int | list[int] | str) -> str:
        """Squeeze literal axes or the axes held by attribute ``axes`` (a str ref)."""
        return self._axes_op("Squeeze", x, [axes] if isinstance(axes, int) else axes)

    def unsqueeze(self, x: str, axes: list[int] | str) -> str:
        return self._axes_op("Unsqueeze", x, axes)

    def _axes_op(self, op_type: str, x: str, axes: list[int] | str) -> str:
        if self.opset >= 13:
            ax = (
                self.op("Constant", refs={"value_ints": axes})
                if isinstance(axes, str)
                else self.const(axes)
            )
            return self.op(op_type, x, ax)
        if isinstance(axes, str):
            return self.op(op_type, x, refs={"axes": axes})
        return self.op(op_type, x, axes=axes)

    def reduce_mean_all(self, x: str) -> str:
        return self.op("ReduceMean", x, keepdims=0)


class FunctionLibrary:
    """Builds the ``ai.analogc`` function bodies for one noise model and opset.

    Args:
        noise: the noise terms; the bodies contain only the enabled ones.
        opset: the model's default-domain opset (function bodies must use the same).
        mode: ``standalone`` (attributes + RandomNormalLike) or ``simulate`` (inputs).
        stats: in simulate mode, add an output with the mean noise variance at E = 1.
    """

    def __init__(
        self,
        *,
        noise: NoiseModel,
        opset: int,
        mode: Literal["standalone", "simulate"] = "standalone",
        stats: bool = False,
    ) -> None:
        if opset < 12:
            raise ValueError(
                f"the analog function library needs opset >= 12, got {opset} "
                "(analogc.passes.load_model converts older models)"
            )
        if stats and mode != "simulate":
            raise ValueError("stats outputs exist only in simulate mode")
        self.noise = noise
        self.opset = opset
        self.mode = mode
        self.stats = stats
        self.domain = DOMAIN if mode == "standalone" else SIM_DOMAIN

    # -- signatures -------------------------------------------------------------------------
    def sim_inputs(self) -> list[str]:
        """Inputs a simulate-mode call takes after the family's own ones."""
        if self.mode != "simulate":
            return []
        names = ["scale"]
        if self.noise.output_noise:
            names.append("eps_y")
        if self.noise.weight:
            names.append("eps_w")
        return names

    def outputs(self) -> list[str]:
        return ["Y", "var"] if self.stats else ["Y"]

    def analog_attributes(self) -> list[str]:
        """Attributes every analog node carries besides its op's own (a ``DynK`` node all but
        ``fan_in``: see :meth:`attributes`)."""
        names = ["fan_in"]
        if self.mode == "standalone":
            names += ["repeats", "e1"]
        if self.noise.thermal:
            names += ["k_t", "r_x"]
        if self.noise.weight:
            names.append("k_w")
        if self.mode == "standalone" and self.noise.output_noise:
            names.append("seed_y")
        if self.mode == "standalone" and self.noise.weight:
            names.append("seed_w")
        return names

    def attributes(self, family: str) -> list[str]:
        spec = FAMILIES[family]
        analog = self.analog_attributes()
        if spec.base is not None:  # D comes from the operands' run-time shapes
            analog = [a for a in analog if a != "fan_in"]
        return [*spec.op_attrs, *analog]

    def function_name(
        self, family: str, *, dtype: int = TensorProto.FLOAT, pooled: bool = False
    ) -> str:
        """``family`` plus the operand type's suffix (and ``Pooled`` for pooled draws)."""
        if family not in FAMILIES:
            raise ValueError(f"unknown analog family {family!r}")
        if dtype not in DTYPE_SUFFIX:
            raise ValueError(f"no analog variant for element type {dtype}")
        return family + DTYPE_SUFFIX[dtype] + ("Pooled" if pooled else "")

    # -- bodies -----------------------------------------------------------------------------
    def function(
        self, family: str, *, dtype: int = TensorProto.FLOAT, pooled: bool = False
    ) -> onnx.FunctionProto:
        """The body of ``family`` for operands of type ``dtype``.

        Args:
            family: a key of :data:`FAMILIES`.
            dtype: the operands' ``TensorProto`` element type.
            pooled: simulate mode only: draws come from flat pools, from ``offset`` on.
        """
        name = self.function_name(family, dtype=dtype, pooled=pooled)
        if pooled and self.mode != "simulate":
            raise ValueError("pooled draws exist only in simulate mode")
        spec = FAMILIES[family]
        base = spec.base or family  # a DynK variant shares its static family's body
        b = _Body(self.opset)
        noise = self.noise
        low = dtype != TensorProto.FLOAT
        runtime_d: list[str] = []

        def fan_in() -> str:
            """D: the ``fan_in`` attribute, or (DynK) computed once from the shapes."""
            if spec.base is None:
                return b.attr_float("fan_in")
            if not runtime_d:
                runtime_d.append(self._runtime_fan_in(b, base))
            return runtime_d[0]

        if self.mode == "simulate":
            s = "scale"
        else:
            s = b.op(
                "Reciprocal",
                b.op("Sqrt", b.op("Mul", b.attr_int_as_float("repeats"), b.attr_float("e1"))),
            )
        # Statistics in float32, whatever the operands' type.
        x32 = b.op("Cast", "X", to=TensorProto.FLOAT) if low else "X"
        w32 = b.op("Cast", "W", to=TensorProto.FLOAT) if low else "W"
        view = self._weight_view(b, base, w32)
        rw_view = rw_out = None
        if noise.thermal or noise.weight or self.stats:
            axes = self._w_axes(base)
            rw_view = b.op(
                "Sub", b.reduce("ReduceMax", view, axes), b.reduce("ReduceMin", view, axes)
            )
            rw_out = self._to_output_layout(b, base, rw_view)
        w = "W"
        if noise.weight:
            assert rw_view is not None
            eps_w = self._draw(b, "eps_w", w32, "seed_w", pooled=pooled)
            sigma_w = b.op("Mul", rw_view, b.op("Mul", b.attr_float("k_w"), s))
            if base == "AnalogGroupConvTranspose":  # back from the grouped view to W's layout
                full = b.op("Expand", sigma_w, "w_group_shape")
                sigma_w = b.op("Reshape", full, b.op("Shape", "W"))
            noisy = b.op("Add", w32, b.op("Mul", eps_w, sigma_w))
            w = b.op("Cast", noisy, to=dtype) if low else noisy
        y = self._core(b, base, w)

        xn2 = wn2_d = None
        if noise.shot or (self.stats and noise.weight):
            xn2 = self._patch_norm2(b, base, x32)
        if noise.shot or self.stats:
            wn2_d = b.op("Div", self._weight_norm2(b, base, w32), fan_in())
        c_t = None
        if noise.thermal:
            c_t = b.op(
                "Mul",
                b.op("Mul", b.attr_float("k_t"), b.attr_float("r_x")),
                b.op("Sqrt", fan_in()),
            )

        out = y
        if noise.output_noise:
            if noise.shot and not noise.thermal:
                assert xn2 is not None and wn2_d is not None
                sigma = b.op("Mul", b.op("Sqrt", xn2), b.op("Mul", b.op("Sqrt", wn2_d), s))
            elif noise.thermal and not noise.shot:
                assert rw_out is not None and c_t is not None
                sigma = b.op("Mul", rw_out, b.op("Mul", c_t, s))
            else:
                assert (
                    xn2 is not None and wn2_d is not None and rw_out is not None and c_t is not None
                )
                th = b.op("Mul", rw_out, c_t)
                var = b.op("Add", b.op("Mul", xn2, wn2_d), b.op("Mul", th, th))
                sigma = b.op("Mul", b.op("Sqrt", var), s)
            y32 = b.op("Cast", y, to=TensorProto.FLOAT) if low else y
            eps_y = self._draw(b, "eps_y", y32, "seed_y", pooled=pooled)
            out = b.op("Add", y32, b.op("Mul", eps_y, sigma))
            if low:
                out = b.op("Cast", out, to=dtype)
        b.nodes.append(helper.make_node("Identity", [out], ["Y"]))  # onnxruntime drops it
        if self.stats:
            self._stats(b, y, xn2, wn2_d, rw_out, c_t)

        inputs = [*spec.inputs, *self.sim_inputs(), *(["offset"] if pooled else [])]
        type_name = onnx.TensorProto.DataType.Name(dtype).lower()
        return helper.make_function(
            self.domain,
            name,
            inputs,
            self.outputs(),
            b.nodes,
            [helper.make_opsetid("", self.opset)],
            attributes=self.attributes(family),
            doc_string=(
                f"{family} ({type_name} operands) with {noise.label} noise (analogc, DESIGN §2)."
                + (" D is taken from the operands' run-time shapes." if spec.base else "")
            ),
        )

    def _draw(self, b: _Body, name: str, like: str, seed: str, *, pooled: bool) -> str:
        """Standard-normal draws shaped like ``like`` (a float32 tensor)."""
        if self.mode == "standalone":
            return b.op("RandomNormalLike", like, refs={"seed": seed})
        if not pooled:
            return name
        size = b.op("Size", like)
        start = b.op("Mul", "offset", size)
        index = b.op("Range", start, b.op("Add", start, size), b.const_i64(1))
        index = b.op("Mod", index, b.op("Size", name))
        return b.op("Reshape", b.op("Gather", name, index, axis=0), b.op("Shape", like))

    def _stats(
        self,
        b: _Body,
        y: str,
        xn2: str | None,
        wn2_d: str | None,
        rw_out: str | None,
        c_t: str | None,
    ) -> None:
        """Mean output-referred variance at E = 1, every enabled term included."""
        noise = self.noise
        parts: list[str] = []
        if noise.shot:
            assert xn2 is not None and wn2_d is not None
            parts.append(b.op("Mul", xn2, wn2_d))
        if noise.thermal:
            assert rw_out is not None and c_t is not None
            th = b.op("Mul", rw_out, c_t)
            parts.append(b.op("Mul", th, th))
        if noise.weight:
            # Var(Σ_j x_j·δW_ij) = ‖x_(i)‖²·(k_w·r_w,i)², padding taps holding zeros.
            assert xn2 is not None and rw_out is not None
            sw = b.op("Mul", rw_out, b.attr_float("k_w"))
            parts.append(b.op("Mul", xn2, b.op("Mul", sw, sw)))
        total = parts[0]
        for part in parts[1:]:
            total = b.op("Add", total, part)
        full = b.op("Expand", total, b.op("Shape", y))
        b.nodes.append(helper.make_node("ReduceMean", [full], ["var"], keepdims=0))

    # -- per-family pieces --------------------------------------------------------------------
    @staticmethod
    def _runtime_fan_in(b: _Body, family: str) -> str:
        """D from the operands' run-time shapes (a float32 scalar, like ``fan_in``).

        MatMul: ``X.shape[-1]``. Contractions (1-D MatMul operands, Einsum): the product over
        the contracted axes of the larger of X's and W's size (``x_axes`` and ``w_axes`` list
        them index by index in the same order, so a broadcast size 1 gives way, as
        in the pass's static count).
        """
        if family == "AnalogMatMul":
            k = b.op("Gather", b.op("Shape", "X"), b.const_i64(-1), axis=0)
            return b.op("Cast", k, to=TensorProto.FLOAT)
        sizes = []
        for name, axes in (("X", "x_axes"), ("W", "w_axes")):
            dims = b.op(
                "Gather", b.op("Shape", name), b.op("Constant", refs={"value_ints": axes}), axis=0
            )
            sizes.append(b.op("Cast", dims, to=TensorProto.FLOAT))
        return b.op("ReduceProd", b.op("Max", *sizes), keepdims=0)

    @staticmethod
    def _w_axes(family: str) -> list[int] | str:
        """Axes of the weight view that hold one output channel's weights (keepdims)."""
        return [-2] if family == "AnalogMatMul" else "w_axes"

    @staticmethod
    def _weight_view(b: _Body, family: str, w: str) -> str:
        """W, or for a grouped ConvTranspose its view [G, C_in/G, C_out/G, *k]."""
        if family == "AnalogGroupConvTranspose":
            return b.op("Reshape", w, "w_group_shape")
        return w

    @staticmethod
    def _layout(b: _Body, reduced: str, prefix: str) -> str:
        """A tensor holding an operand's uncontracted axes, laid out like the output
        (see :func:`analogc.passes.ops.matmul.contraction_layout`)."""
        t = b.unsqueeze(reduced, [0, 1])
        t = b.op("Transpose", t, refs={"perm": f"{prefix}_perm"})
        t = b.unsqueeze(t, f"{prefix}_unsq")
        return b.squeeze(t, [0, 1, 2])

    def _to_output_layout(self, b: _Body, family: str, per_channel: str) -> str:
        """Per-output-channel values (weight-view layout, keepdims) laid out to broadcast
        against Y."""
        if family == "AnalogMatMul":
            return per_channel
        if family in _CONTRACTIONS:
            return self._layout(b, b.squeeze(per_channel, "w_axes"), "w")
        if family == "AnalogGemm":
            row = b.op("Reshape", per_channel, b.const([1, -1]))
            return b.op("Mul", row, b.op("Abs", b.attr_float("alpha")))
        if family == "AnalogGroupConvTranspose":
            return b.op("Reshape", per_channel, "channel_shape")
        if family == "AnalogConvTranspose":
            return b.squeeze(per_channel, 0)
        return b.squeeze(per_channel, 1)

    def _conv_refs(self, family: str) -> dict[str, str]:
        return {a: a for a in FAMILIES[family].op_attrs if a != "w_axes"}

    def _core(self, b: _Body, family: str, w: str) -> str:
        if family in ("AnalogMatMul", "AnalogMatVec"):
            return b.op("MatMul", "X", w)
        if family == "AnalogEinsum":
            return b.op("Einsum", "X", w, refs={"equation": "equation"})
        if family == "AnalogGemm":
            refs = {a: a for a in ("alpha", "beta", "transA", "transB")}
            return b.op("Gemm", "X", w, "C", refs=refs)
        op = "ConvTranspose" if family in _CONV_TRANSPOSES else "Conv"
        return b.op(op, "X", w, "B", refs=self._conv_refs(family))

    def _patch_norm2(self, b: _Body, family: str, x: str) -> str:
        """‖x_(i)‖², broadcastable against Y (``x`` is X in float32)."""
        if family == "AnalogMatMul":
            return b.reduce("ReduceSumSquare", x, [-1])
        if family in _CONTRACTIONS:
            return self._layout(b, b.reduce("ReduceSumSquare", x, "x_axes", keepdims=0), "x")
        if family == "AnalogGemm":
            return b.op("Reshape", b.reduce("ReduceSumSquare", x, "x_axes"), b.const([-1, 1]))
        if family in _CONV_TRANSPOSES:
            ones = b.op("ConstantOfShape", "ones_shape", value=_ONE_F32)
            n2 = b.op("ConvTranspose", b.op("Mul", x, x), ones, refs=self._conv_refs(family))
        else:
            n2 = self._conv_patch_norm2(b, family, x)
        if family in ("AnalogGroupConv", "AnalogGroupConvTranspose"):
            n2 = b.op("Gather", n2, "group_index", axis=1)
        return n2

    def _conv_patch_norm2(self, b: _Body, family: str, x: str) -> str:
        """Σ over each group's channels and the kernel window of X², one map per group.

        Summing channels first (a 1×1 grouped convolution with ones) and then the window (a
        per-group box filter with the op's own strides, pads and dilations) gives exactly the
        one-step convolution of X² with a ones kernel [G, C_in/G, *k], at 1/prod(k) + G/C_in
        of its cost: 3×3 kernels on 64 channels, ~8× fewer MACs. ``ones_shape`` holds
        [G, C_in/G, *k]; the two kernel shapes are derived from it and constant-folded.
        """
        group_and_channels = b.slice("ones_shape", 0, 2)
        kernel = b.slice("ones_shape", 2)
        ones_like_kernel = b.op("Add", b.op("Mul", kernel, b.const([0])), b.const([1]))
        sum_shape = b.op("Concat", group_and_channels, ones_like_kernel, axis=0)
        box_shape = b.op("Concat", b.slice("ones_shape", 0, 1), b.const([1]), kernel, axis=0)
        sum_kernel = b.op("ConstantOfShape", sum_shape, value=_ONE_F32)
        channels = b.op("Conv", b.op("Mul", x, x), sum_kernel, refs={"group": "group"})
        box = b.op("ConstantOfShape", box_shape, value=_ONE_F32)
        return b.op("Conv", channels, box, refs=self._conv_refs(family))

    def _weight_norm2(self, b: _Body, family: str, w: str) -> str:
        """‖w_i‖², broadcastable against Y; for convolutions only the taps meeting the input
        (``w`` is W in float32)."""
        if family == "AnalogMatMul":
            return b.reduce("ReduceSumSquare", w, [-2])
        if family in _CONTRACTIONS:
            return self._layout(b, b.reduce("ReduceSumSquare", w, "w_axes", keepdims=0), "w")
        if family == "AnalogGemm":
            alpha = b.attr_float("alpha")
            row = b.op("Reshape", b.reduce("ReduceSumSquare", w, "w_axes"), b.const([1, -1]))
            return b.op("Mul", row, b.op("Mul", alpha, alpha))
        op = "ConvTranspose" if family in _CONV_TRANSPOSES else "Conv"
        mask = b.op("ConstantOfShape", "mask_shape", value=_ONE_F32)
        return b.op(op, mask, b.op("Mul", w, w), refs=self._conv_refs(family))
