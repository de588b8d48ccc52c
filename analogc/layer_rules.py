"""Per-layer hardware (DESIGN §2.2): rules that override the hardware for some analog ops.

A hardware file may end with ``[[layer]]`` sections, each selecting ops by exactly one of
``match`` (a glob on the node name), ``regex`` (a regular expression found anywhere in the
node name; anchor it with ``^…$``) or ``op_type``, and setting any ``[noise]`` key, ``e1``,
``digital`` (keep the op exact, out of the analog energy account) or ``repeats`` (pin its
repeats)::

    [[layer]]
    match = "/fc/*"
    digital = true

    [[layer]]
    op_type = "Conv"
    adc_bits = 6
    repeats = 16

Rules apply in order, key by key: a later rule overrides only the keys it sets. The command
line's ``--digital PATTERN`` and ``--pin PATTERN=N`` (``CompileSettings.digital``/``pins``)
are ``match`` rules applied after the file's. Every rule must select at least one analog op.
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from analogc.errors import ConfigError
from analogc.passes.discover import LayerInfo
from analogc.passes.noise import NoiseModel

__all__ = [
    "SELECTORS",
    "LayerHardware",
    "LayerRule",
    "command_line_rules",
    "resolve_layers",
]

Selector = Literal["match", "regex", "op_type"]
SELECTORS: tuple[Selector, ...] = ("match", "regex", "op_type")
OWN_KEYS = ("digital", "repeats", "e1")
NETWORK_KEYS = ("name", "description", "source", "energy_unit", "wavelength_nm")
"""Top-level keys that describe the whole network, not one layer (Ē sums every layer)."""


def noise_keys() -> list[str]:
    """Every ``[noise]`` key of the registered terms (flags and constants)."""
    return list(NoiseModel(allow_empty=True))


@dataclass(frozen=True, kw_only=True)
class LayerRule:
    """One per-layer section: which analog ops it selects and what it sets for them.

    Attributes:
        label: how reports name it: ``layer[2]`` (the second ``[[layer]]`` of the file),
            ``--digital[1]``, ``--pin[1]``.
        selector: ``match`` (glob on the node name), ``regex`` (searched in the node name)
            or ``op_type``.
        pattern: the glob, expression or op type.
        noise: the ``[noise]`` keys it overrides, validated.
        e1: the selected ops' energy of one pass per MAC (None: unchanged).
        digital: True keeps the ops exact; False makes them analog again (None: unchanged).
        repeats: pins the ops' repeats (None: searched).
        origin: the file it came from ("" for settings and the command line).
    """

    label: str
    selector: Selector
    pattern: str
    noise: Mapping[str, Any] = field(default_factory=dict)
    e1: float | None = None
    digital: bool | None = None
    repeats: int | None = None
    origin: str = ""

    def __post_init__(self) -> None:
        if self.selector not in SELECTORS:
            raise ConfigError(f"{self.where}: selector must be one of {', '.join(SELECTORS)}")
        if not isinstance(self.pattern, str) or not self.pattern:
            raise ConfigError(f"{self.where}: {self.selector} must be a non-empty string")
        if self.selector == "regex":
            try:
                re.compile(self.pattern)
            except re.error as exc:
                raise ConfigError(
                    f"{self.where}: regex {self.pattern!r} is not a regular expression ({exc})"
                ) from None
        if self.digital and self.repeats is not None:
            raise ConfigError(
                f"{self.where}: repeats = {self.repeats} with digital = true (a digital op has "
                "no repeats); drop one of them"
            )

    @property
    def where(self) -> str:
        """The rule in error messages: ``hw.toml: layer[2] (op_type = "Conv")``."""
        at = f"{self.origin}: " if self.origin else ""
        return f"{at}{self.label} ({self.describe()})"

    def describe(self) -> str:
        return f'{self.selector} = "{self.pattern}"'

    def matches(self, layer: LayerInfo) -> bool:
        if self.selector == "match":
            return fnmatch.fnmatchcase(layer.name, self.pattern)
        if self.selector == "regex":
            return re.search(self.pattern, layer.name) is not None
        return layer.op_type == self.pattern

    def settings(self) -> dict[str, Any]:
        """What the rule sets, as it would be written in a hardware file."""
        out: dict[str, Any] = {}
        for key in OWN_KEYS:
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        return {**out, **self.noise}

    def to_dict(self) -> dict[str, Any]:
        """The ``[[layer]]`` table (``HardwareConfig.from_dict`` reads it back)."""
        return {self.selector: self.pattern, **self.settings()}

    @classmethod
    def from_dict(cls, data: Any, *, index: int, origin: str = "") -> LayerRule:
        """The ``index``-th (1-based) ``[[layer]]`` table of a hardware file, checked strictly.

        Raises:
            ConfigError: naming the rule and the key: not a table, no selector or two, an
                unknown key, a value of the wrong type or out of range.
        """
        label = f"layer[{index}]"
        at = f"{origin}: {label}" if origin else label
        if not isinstance(data, Mapping):
            raise ConfigError(f"{at}: must be a table of keys ([[layer]]), got {data!r}")
        values = dict(data)
        nested = values.pop("noise", None)
        if nested is not None:
            if not isinstance(nested, Mapping):
                raise ConfigError(f"{at}: noise must be a table of [noise] keys, got {nested!r}")
            twice = sorted(set(nested) & set(values))
            if twice:
                raise ConfigError(
                    f"{at}: {twice[0]} is set both in the rule and in its noise table"
                )
            values.update(nested)
        chosen = [s for s in SELECTORS if s in values]
        if len(chosen) != 1:
            found = f"{' and '.join(chosen)}" if chosen else "none"
            raise ConfigError(
                f"{at}: needs exactly one selector (match = glob on the node name, regex, or "
                f"op_type), got {found}"
            )
        selector = chosen[0]
        pattern = values.pop(selector)
        if not isinstance(pattern, str) or not pattern:
            raise ConfigError(f"{at}: {selector} must be a non-empty string, got {pattern!r}")
        at = f'{at} ({selector} = "{pattern}")'
        _check_keys(values, at)
        noise = {k: v for k, v in values.items() if k not in OWN_KEYS}
        checked = NoiseModel(allow_empty=True, where=f"{at}: ", **noise)
        return cls(
            label=label,
            selector=selector,
            pattern=pattern,
            noise={k: checked[k] for k in noise},
            e1=_e1(values.get("e1"), at),
            digital=_flag(values.get("digital"), at),
            repeats=_repeats(values.get("repeats"), at),
            origin=origin,
        )


def _check_keys(values: Mapping[str, Any], at: str) -> None:
    allowed = [*OWN_KEYS, *noise_keys()]
    for key in values:
        if key in allowed:
            continue
        if key in SELECTORS:
            raise ConfigError(f"{at}: two selectors ({key} too); use one [[layer]] per selector")
        if key in NETWORK_KEYS:
            raise ConfigError(
                f"{at}: {key} applies to the whole network, not one layer; set it at the top "
                "of the file"
            )
        close = difflib.get_close_matches(str(key), allowed, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise ConfigError(
            f"{at}: unknown key {key!r}{hint}; allowed: {', '.join(SELECTORS)}, "
            f"{', '.join(allowed)}"
        )


def _flag(value: Any, at: str) -> bool | None:
    if value is not None and not isinstance(value, bool):
        raise ConfigError(f"{at}: digital must be true or false, got {value!r}")
    return value


def _repeats(value: Any, at: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{at}: repeats must be an integer >= 1, got {value!r}")
    return value


def _e1(value: Any, at: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
        raise ConfigError(f"{at}: e1 must be a number > 0, got {value!r}")
    return float(value)


def command_line_rules(digital: Sequence[str], pins: Mapping[str, int]) -> list[LayerRule]:
    """``--digital PATTERN`` and ``--pin PATTERN=N`` as ``match`` rules, in that order."""
    rules = [
        LayerRule(label=f"--digital[{i}]", selector="match", pattern=p, digital=True)
        for i, p in enumerate(digital, 1)
    ]
    for i, (pattern, n) in enumerate(pins.items(), 1):
        label = f"--pin[{i}]"
        rules.append(
            LayerRule(
                label=label,
                selector="match",
                pattern=pattern,
                repeats=_repeats(n, f'{label} (match = "{pattern}")'),
            )
        )
    return rules


@dataclass(frozen=True)
class LayerHardware:
    """One analog op's hardware once every rule selecting it has applied.

    Attributes:
        rules: the labels of the rules that selected it, in the order they applied.
        noise: its noise model (the hardware's when no rule changed a noise key).
        e1: its energy of one pass per MAC (None: the hardware's).
        digital: kept exact by choice (not annotated, out of the analog energy account).
        repeats: its pinned repeats (None: searched).
    """

    rules: tuple[str, ...]
    noise: NoiseModel
    e1: float | None = None
    digital: bool = False
    repeats: int | None = None

    @property
    def rule(self) -> str | None:
        """The rules as reports show them: ``layer[1]+--pin[1]`` (None: no rule)."""
        return "+".join(self.rules) or None


def resolve_layers(
    rules: Sequence[LayerRule], layers: Sequence[LayerInfo], noise: NoiseModel
) -> dict[str, LayerHardware]:
    """Apply ``rules`` in order to the analog ``layers``: later rules override the keys they
    set. Only the ops some rule selects are in the result.

    Raises:
        ConfigError: when a rule selects no analog op, or a layer's noise model ends up with
            no term (keep it digital instead).
    """
    resolved: dict[str, LayerHardware] = {}
    for rule in rules:
        selected = [layer for layer in layers if rule.matches(layer)]
        if not selected:
            names = [layer.name for layer in layers]
            shown = ", ".join(names[:6]) + (", ..." if len(names) > 6 else "")
            raise ConfigError(
                f"{rule.where} matches no analog op (analog ops: {shown or 'none'}; "
                "`analogc inspect` lists them all)"
            )
        for layer in selected:
            resolved[layer.name] = _apply(rule, resolved.get(layer.name), noise)
    return {name: _checked(hw, name, noise, rules) for name, hw in resolved.items()}


def _apply(rule: LayerRule, before: LayerHardware | None, noise: NoiseModel) -> LayerHardware:
    before = before or LayerHardware((), noise)
    values = {key: before.noise[key] for key in before.noise}
    values.update(rule.noise)
    return LayerHardware(
        rules=(*before.rules, rule.label),
        noise=NoiseModel(allow_empty=True, **values),
        e1=before.e1 if rule.e1 is None else rule.e1,
        digital=before.digital if rule.digital is None else rule.digital,
        repeats=before.repeats if rule.repeats is None else rule.repeats,
    )


def _checked(
    hw: LayerHardware, name: str, noise: NoiseModel, rules: Sequence[LayerRule]
) -> LayerHardware:
    if hw.digital:
        return LayerHardware(hw.rules, noise, None, True, None)  # a pin or noise key is moot
    if not hw.noise.terms:
        last = next(r for r in reversed(rules) if r.label == hw.rules[-1])
        raise ConfigError(
            f"{last.where}: leaves {name} with no noise term; keep it exact with digital = true"
        )
    return hw
