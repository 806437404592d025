"""The machine models, by name: what `gerbang sim list` shows."""

from __future__ import annotations

from simulators.core.spec import Model

from . import furnace, imm, loom, mixer, reflow, roaster, tofu

MODELS: dict[str, Model] = {
    m.MODEL.name: m.MODEL for m in (tofu, loom, reflow, furnace, imm, roaster, mixer)
}


def get_model(name: str) -> Model:
    """The model called `name`; KeyError with the known names otherwise."""
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(MODELS)
        raise KeyError(f"unknown model {name!r}; known models: {known}") from None
