"""Engines: one module per backend, chosen by name (``--engine`` / ``[model] engine``).

    transformers   in-process transformers causal LM, KV-cached (the default)

Each engine class implements ``base.Engine`` and has ``load(spec, **options) -> (engine,
fingerprint)``, ``OPTIONS`` (its ``[engine]`` config options with defaults) and ``SEMANTIC``
(the options that change results and so enter the run id).  Modules are imported only when their
engine is asked for, so an engine's package (llama-cpp-python, an HTTP client) is needed only by
those who use it.
"""
from __future__ import annotations

import importlib
import os
import sys
from typing import Any, Callable

from .base import FENCE, Engine, EngineBase, EngineError

# name -> (module, class); the module is imported on first use
ENGINES: dict[str, tuple[str, str]] = {
    "transformers": ("egcfg_core.engines.transformers", "TransformersEngine"),
}
DEFAULT_ENGINE = "transformers"


def engine_class(name: str) -> type:
    """The class of a registered engine; a clear error naming the known ones otherwise."""
    if name not in ENGINES:
        raise EngineError(f"unknown engine {name!r} (known: {', '.join(ENGINES)})")
    module, cls = ENGINES[name]
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as e:
        raise EngineError(f"engine {name!r} is not installed: {e}") from e


def engine_options(name: str, options: dict[str, Any] | None) -> dict[str, Any]:
    """An engine's options with its defaults filled in; unknown keys are refused by name."""
    cls = engine_class(name)
    options = dict(options or {})
    unknown = sorted(set(options) - set(cls.OPTIONS))
    if unknown:
        known = ", ".join(cls.OPTIONS) or "none"
        raise EngineError(f"engine {name!r}: unknown option(s) {', '.join(unknown)} (known: {known})")
    return {**cls.OPTIONS, **options}


def load_engine(name: str, spec: str, options: dict[str, Any] | None = None) -> tuple[Engine, str]:
    """(engine, model fingerprint) for an engine name, a model spec and the engine's options."""
    return engine_class(name).load(spec, **engine_options(name, options))


def load_factory(spec: str) -> Callable[[], Any]:
    """The callable named by ``factory:module:function`` (modules of the current folder too)."""
    try:
        _, mod, fn = spec.split(":", 2)
    except ValueError:
        raise ValueError(f"model spec {spec!r}: expected factory:module:function") from None
    if os.getcwd() not in sys.path:  # like `python -m`: modules of the current folder
        sys.path.append(os.getcwd())
    try:
        return getattr(importlib.import_module(mod), fn)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"model spec {spec!r}: cannot import {mod}.{fn}: {e}") from e


__all__ = ["DEFAULT_ENGINE", "ENGINES", "FENCE", "Engine", "EngineBase", "EngineError", "engine_class",
           "engine_options", "load_engine", "load_factory"]
