"""aihwkit interoperability (optional: aihwkit is needed only to build its objects).

* :func:`hardware_from_aihwkit`: an aihwkit 1.1 inference ``RPUConfig`` as an analogc
  hardware model (``analogc hardware from-aihwkit module:attr`` writes it as a hardware file);
  every field with no analogc equivalent is named in one error.
* :func:`rpu_configs_for_plan`: for an analogc plan (a compiled model, or its report), one
  aihwkit ``TorchInferenceRPUConfig`` per layer with its repeats folded in, for hardware-aware
  training in aihwkit on analogc's plan; :func:`rpu_specs_for_plan` gives the same as plain
  values without aihwkit.

The equivalence of the two simulators on these terms is measured, not assumed:
``bench/aihwkit_equivalence.py`` (results in ``bench/results/aihwkit_equivalence.md``).
"""

from .api import INSTALL, AihwkitAPI, AihwkitMissingError
from .from_rpu import Translation, hardware_from_aihwkit
from .hardware_file import hardware_file
from .loading import load_plan, load_rpu_config
from .to_rpu import RPUSpec, build_rpu_config, rpu_configs_for_plan, rpu_spec, rpu_specs_for_plan

__all__ = [
    "INSTALL",
    "AihwkitAPI",
    "AihwkitMissingError",
    "RPUSpec",
    "Translation",
    "build_rpu_config",
    "hardware_file",
    "hardware_from_aihwkit",
    "load_plan",
    "load_rpu_config",
    "rpu_configs_for_plan",
    "rpu_spec",
    "rpu_specs_for_plan",
]
