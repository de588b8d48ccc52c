"""A noise model: which registered terms are on, and their constants.

Built from keyword arguments (``NoiseModel(shot=True)``, ``NoiseModel(thermal=True,
k_t=0.02)``) or a hardware file's ``[noise]`` table; every key is owned by a term of
:data:`analogc.passes.noise.TERMS` (its flag, or one of its params), and values are checked
strictly by type (a string ``"false"`` is not a boolean).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from analogc.errors import ConfigError

from .base import NoiseTerm, Param
from .registry import TERMS

__all__ = ["NoiseModel"]


def _keys() -> dict[str, Param]:
    """Every key of the registered terms: their flags first, then their params."""
    keys = {term.name: term.flag for term in TERMS.values()}
    for term in TERMS.values():
        for param in term.params:
            if param.name in keys:
                raise RuntimeError(f"noise key {param.name!r} is claimed by two terms")
            keys[param.name] = param
    return keys


class NoiseModel:
    """The enabled noise terms and every term's constants (immutable, hashable).

    Args:
        **values: term flags (``shot=True``) and constants (``k_t=0.02``); the rest take
            their defaults.

    Raises:
        ConfigError: for an unknown key, a value of the wrong type or out of range, or when
            no term is enabled.
    """

    __slots__ = ("_values",)
    _values: dict[str, Any]

    def __init__(self, *, where: str = "", allow_empty: bool = False, **values: Any) -> None:
        keys = _keys()
        unknown = sorted(set(values) - set(keys))
        if unknown:
            raise ConfigError(f"{where}unknown keys {unknown}; allowed: {list(keys)}")
        full = {name: param.default for name, param in keys.items()}
        for name, value in values.items():
            owner = next((t.name for t in TERMS.values() if name in _names(t)), "")
            full[name] = keys[name].validate(value, where=f"{where}{owner}{' ' if owner else ''}")
        if not allow_empty and not any(full[name] for name in TERMS):
            raise ConfigError(
                f"{where}noise model has no term: enable at least one of {', '.join(TERMS)}"
            )
        object.__setattr__(self, "_values", full)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("NoiseModel is immutable; use .replace(...)")

    def __getattr__(self, name: str) -> Any:
        """A flag or constant by name: ``noise.shot``, ``noise.k_t``."""
        if name.startswith("__") or name == "_values":
            raise AttributeError(name)
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(name) from None

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (self._values,))

    def __getitem__(self, name: str) -> Any:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __eq__(self, other: object) -> bool:
        """Equal when the same terms are on with the same constants (a disabled term's
        constants do not matter)."""
        return isinstance(other, NoiseModel) and self.to_dict() == other.to_dict()

    def __hash__(self) -> int:
        return hash(json.dumps(self.to_dict(), sort_keys=True, default=str))

    def __repr__(self) -> str:
        on = ", ".join(f"{k}={v!r}" for k, v in self._values.items() if k not in TERMS or v)
        return f"NoiseModel({on})"

    def replace(self, **changes: Any) -> NoiseModel:
        """A copy with some keys changed."""
        return NoiseModel(**{**self._values, **changes})

    def without(self, names: Iterator[str] | list[str] | set[str]) -> NoiseModel:
        """A copy with these terms off (possibly none left: an exact analog op)."""
        changes = {name: False for name in names}
        return NoiseModel(allow_empty=True, **{**self._values, **changes})

    @property
    def terms(self) -> tuple[str, ...]:
        """Enabled terms, in registry order (used in names and reports)."""
        return tuple(name for name in TERMS if self._values.get(name))

    @property
    def enabled(self) -> tuple[NoiseTerm, ...]:
        """The enabled terms themselves, in registry order."""
        return tuple(TERMS[name] for name in self.terms)

    @property
    def label(self) -> str:
        return "+".join(self.terms)

    def to_dict(self) -> dict[str, Any]:
        """The flags of all registered terms, then the constants of the enabled ones."""
        enabled = set(self.terms)
        own = {p.name: t.name for t in TERMS.values() for p in t.params}
        return {k: v for k, v in self._values.items() if k in TERMS or own.get(k) in enabled}

    def fingerprint(self) -> str:
        """A short stable hash of the enabled terms and their constants."""
        text = json.dumps(self.to_dict(), sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()

    @classmethod
    def from_dict(
        cls, data: Mapping[str, Any], *, where: str = "", allow_empty: bool = False
    ) -> NoiseModel:
        """From a hardware file's ``[noise]`` table or a plan's ``noise`` entry."""
        return cls(where=where, allow_empty=allow_empty, **dict(data))


def _rebuild(values: dict[str, Any]) -> NoiseModel:
    return NoiseModel(allow_empty=True, **values)


def _names(term: NoiseTerm) -> set[str]:
    return {p.name for p in term.params}
