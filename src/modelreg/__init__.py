"""modelreg: a Git repository as the model registry.

The public Python API is the names in `__all__`, loaded on first use (PEP 562) so that
`import modelreg` stays cheap; see docs/python-api.md. Everything else is internal.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = [
    "Registry",
    "__version__",
    "check_drift",
    "gate",
    "history",
    "load_model",
    "open_registry",
    "promote",
    "register",
    "status",
]

if TYPE_CHECKING:
    from modelreg.api import (
        Registry,
        check_drift,
        gate,
        history,
        load_model,
        open_registry,
        promote,
        register,
        status,
    )


def __getattr__(name: str) -> Any:
    if name in __all__:
        from modelreg import api

        value = getattr(api, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'modelreg' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
