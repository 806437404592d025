"""Simulated factory machines that trainees and tests read over real protocols.

Layout (pure logic in the middle, protocol I/O at the edges):

- `core/`: the clock (real or fake, with a speed factor), seeded randomness, pure signal
  primitives, the shared machine state machine, and the signal declaration types;
- `models/`: one module per machine model; each a pure `step(state, dt, inputs, rng)` plus a
  declaration of its signals, from which the register map, the docs and `sim config` come;
- `engine.py`: steps a model's machines at a fixed simulated tick, applies fault overlays, and
  keeps the register image the frontends serve;
- `frontends/`: the protocol servers (Modbus TCP and RTU);
- `export.py`: `sim config` (gateway `devices:` entries) and `sim describe` (Markdown);
- `cli.py`: `gerbang sim list | run | config | describe`.
"""
