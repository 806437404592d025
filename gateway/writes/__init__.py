"""Writing to machines (SPEC "Writing to machines"): the write service, its record on disk, and
the MQTT `$set` commands. HTTP routes are in `gateway.api.routes.writes`.

- `service`: checks a write (writable, type, min/max, device state), carries it out through
  the device's adapter (`gateway.adapter.Writer`) with a timeout, and records every attempt;
- `record`: the write record, append-only JSON lines, fsynced, bounded, surviving restarts;
- `commands`: the MQTT command listener, when `mqtt.commands: true`.
"""
