"""Stand-ins for the aihwkit 1.1 classes the conversions read and build: the same class names,
field names, defaults and enum members (``test_aihwkit.py`` compares them with the real ones
when aihwkit is installed), so the conversions are tested without aihwkit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from analogc.aihwkit import AihwkitAPI


class NoiseManagementType(Enum):
    NONE = "None"
    ABS_MAX = "AbsMax"
    ABS_MAX_NP_SUM = "AbsMaxNPSum"
    MAX = "Max"
    CONSTANT = "Constant"
    AVERAGE_ABS_MAX = "AverageAbsMax"


class BoundManagementType(Enum):
    NONE = "None"
    ITERATIVE = "Iterative"
    ITERATIVE_WORST_CASE = "IterativeWorstCase"
    SHIFT = "Shift"


class WeightNoiseType(Enum):
    NONE = "None"
    ADDITIVE_CONSTANT = "AdditiveConstant"
    PCM_READ = "PCMRead"


class AnalogMVType(Enum):
    IDEAL = "Ideal"
    ONE_PASS = "OnePass"
    POS_NEG_SEPARATE = "PosNegSeparate"
    POS_NEG_SEPARATE_DIGITAL_SUM = "PosNegSeparateDigitalSum"
    SPLIT_MODE = "SplitMode"
    BIT_WISE = "BitWise"


class WeightModifierType(Enum):
    NONE = "None"
    DISCRETIZE = "Discretize"
    MULT_NORMAL = "MultNormal"
    ADD_NORMAL = "AddNormal"
    DISCRETIZE_ADD_NORMAL = "DiscretizeAddNormal"
    DOREFA = "DoReFa"
    POLY = "Poly"
    PCM_NOISE = "PCMNoise"
    PROG_NOISE = "ProgNoise"
    DROP_CONNECT = "DropConnect"
    COPY = "Copy"


class WeightClipType(Enum):
    NONE = "None"
    FIXED_VALUE = "FixedValue"
    LAYER_GAUSSIAN = "LayerGaussian"
    AVERAGE_CHANNEL_MAX = "AverageChannelMax"


class WeightRemapType(Enum):
    NONE = "None"
    LAYERWISE_SYMMETRIC = "LayerwiseSymmetric"
    CHANNELWISE_SYMMETRIC = "ChannelwiseSymmetric"


@dataclass
class IOParameters:
    is_perfect: bool = False
    mv_type: AnalogMVType = AnalogMVType.ONE_PASS
    inp_bound: float = 1.0
    inp_noise: float = 0.0
    inp_res: float = 1 / (2**7 - 2)
    inp_sto_round: bool = False
    inp_asymmetry: float = 0.0
    out_bound: float = 12.0
    out_noise: float = 0.06
    out_noise_std: float = 0.0
    out_res: float = 1 / (2**9 - 2)
    out_sto_round: bool = False
    out_scale: float = 1.0
    out_asymmetry: float = 0.0
    bound_management: BoundManagementType = BoundManagementType.ITERATIVE
    noise_management: NoiseManagementType = NoiseManagementType.ABS_MAX
    w_noise: float = 0.0
    w_noise_type: WeightNoiseType = WeightNoiseType.NONE
    ir_drop: float = 0.0
    ir_drop_g_ratio: float = 1.0 / 0.35 / 5e-6
    out_nonlinearity: float = 0.0
    out_nonlinearity_std: float = 0.0
    slope_calibration: float = 0.0
    v_offset_std: float = 0.0
    v_offset_w_min: float = -1.0
    r_series: float = 0.0
    w_read_asymmetry_dtod: float = 0.0
    max_bm_factor: int = 1000
    max_bm_res: float = 0.25
    bm_test_negative_bound: bool = True
    nm_thres: float = 0.0


@dataclass
class MappingParameter:
    digital_bias: bool = True
    weight_scaling_omega: float = 0.0
    weight_scaling_columnwise: bool = False
    weight_scaling_lr_compensation: bool = False
    learn_out_scaling: bool = False
    out_scaling_columnwise: bool = False
    max_input_size: int = 512
    max_output_size: int = 512


@dataclass
class WeightModifierParameter:
    std_dev: float = 0.0
    per_batch_sample: bool = False
    res: float = 0.0
    sto_round: bool = False
    dorefa_clip: float = 0.6
    pdrop: float = 0.0
    enable_during_test: bool = False
    rel_to_actual_wmax: bool = True
    assumed_wmax: float = 1.0
    copy_last_column: bool = False
    coeffs: list[float] = field(default_factory=lambda: [0.0105392, 0.0768, -0.046925])
    type: WeightModifierType = WeightModifierType.NONE
    g_max: float = 25.0
    pcm_zero_thres: float = 0.0
    pcm_t_inference: float = 0.0
    pcm_prob_at_reset: float = 0.0
    pcm_prob_at_gmax: float = 0.0
    pcm_prob_at_random: float = 0.0
    pcm_t0: float = 20.0


@dataclass
class WeightClipParameter:
    fixed_value: float = -1.0
    sigma: float = 2.5
    type: WeightClipType = WeightClipType.NONE


@dataclass
class WeightRemapParameter:
    remapped_wmax: float = 1.0
    max_scale_range: float = 0.0
    max_scale_ref: float = 0.0
    type: WeightRemapType = WeightRemapType.NONE


@dataclass
class InputRangeParameter:
    enable: bool = False
    learn_input_range: bool = True
    init_value: float = 3.0
    init_from_data: int = 100
    init_std_alpha: float = 3.0
    decay: float = 0.001
    input_min_percentage: float = 0.95
    manage_output_clipping: bool = False
    output_min_percentage: float = 0.95
    gradient_scale: float = 1.0
    gradient_relative: bool = True
    calibration_info: Any = None


@dataclass
class PrePostProcessingParameter:
    input_range: InputRangeParameter = field(default_factory=InputRangeParameter)


class SinglePairConductanceConverter:
    def __init__(self, g_max: float | None = None, g_min: float | None = None):
        self.g_max = 25.0 if g_max is None else g_max
        self.g_min = 0.0 if g_min is None else g_min


class DualPairConductanceConverter(SinglePairConductanceConverter):
    """A converter analogc does not model."""


class PCMLikeNoiseModel:
    """aihwkit 1.1's constructor logic, including its reference g_max convention."""

    def __init__(
        self,
        prog_coeff: list[float] | None = None,
        g_converter: Any = None,
        g_max: float | None = None,
        t_read: float = 250.0e-9,
        t_0: float = 20.0,
        prog_noise_scale: float = 1.0,
        read_noise_scale: float = 1.0,
        drift_scale: float = 1.0,
        prog_coeff_g_max_reference: float | None = None,
    ):
        self.g_converter = g_converter or SinglePairConductanceConverter(g_max=g_max)
        self.g_max = getattr(self.g_converter, "g_max", g_max)
        if prog_coeff_g_max_reference is None:
            self.prog_coeff_g_max_reference = self.g_max
        if prog_coeff is None:
            self.prog_coeff = [0.26348, 1.9650, -1.1731]
            self.prog_coeff_g_max_reference = 25.0
        else:
            self.prog_coeff = prog_coeff
        self.t_0 = t_0
        self.t_read = t_read
        self.prog_noise_scale = prog_noise_scale
        self.read_noise_scale = read_noise_scale
        self.drift_scale = drift_scale


class StateIndependentNoiseModel:
    """A noise model analogc does not model."""


class GlobalDriftCompensation:
    pass


@dataclass
class TorchInferenceRPUConfig:
    pre_post: PrePostProcessingParameter = field(default_factory=PrePostProcessingParameter)
    mapping: MappingParameter = field(default_factory=MappingParameter)
    forward: IOParameters = field(default_factory=IOParameters)
    noise_model: Any = field(default_factory=PCMLikeNoiseModel)
    drift_compensation: Any = field(default_factory=GlobalDriftCompensation)
    clip: WeightClipParameter = field(default_factory=WeightClipParameter)
    remap: WeightRemapParameter = field(default_factory=WeightRemapParameter)
    modifier: WeightModifierParameter = field(default_factory=WeightModifierParameter)


API = AihwkitAPI(
    TorchInferenceRPUConfig=TorchInferenceRPUConfig,
    IOParameters=IOParameters,
    MappingParameter=MappingParameter,
    WeightModifierParameter=WeightModifierParameter,
    PCMLikeNoiseModel=PCMLikeNoiseModel,
    GlobalDriftCompensation=GlobalDriftCompensation,
    NoiseManagementType=NoiseManagementType,
    BoundManagementType=BoundManagementType,
    WeightNoiseType=WeightNoiseType,
    WeightModifierType=WeightModifierType,
)
"""The stand-ins as the classes :func:`analogc.aihwkit.build_rpu_config` builds from."""


def default_config(**forward: Any) -> TorchInferenceRPUConfig:
    """aihwkit's default configuration, bound management off (so it translates), with
    ``forward`` changes."""
    config = TorchInferenceRPUConfig()
    config.forward.bound_management = BoundManagementType.NONE
    for name, value in forward.items():
        setattr(config.forward, name, value)
    return config
