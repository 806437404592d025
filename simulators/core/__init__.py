"""Model-independent building blocks: clock, randomness, signal primitives, declarations."""
