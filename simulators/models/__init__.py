"""The machine models, by name: what `gerbang sim list` shows."""

from __future__ import annotations

from simulators.core.spec import Model

from . import tofu

MODELS: dict[str, Model] = {model.name: model for model in (tofu.MODEL,)}


def get_model(name: str) -> Model:
    """The model called `name`; KeyError with the known names otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(MODELS)
        raise KeyError(f"unknown model {name!r}; known models: {known}") from None
