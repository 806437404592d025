"""OEE at the edge (SPEC "OEE, states and stops"): availability, performance and quality per shift.

Three layers, each in its own module:

- `calendar`: the site's shifts and breaks in its timezone, as UTC milliseconds (pure);
- `counters` and `engine`: one machine's time accounting, stops and part counts (pure: no I/O,
  time is passed in);
- `snapshot` and `service`: the shell that feeds engines from batches, persists their state so
  that a restart mid-shift keeps the figures, and says which payloads are due;
- `wiring`: the service in the running gateway (a pipeline observer, a tick task, its payloads
  as `Report`s on `$oee` and measurement `oee`).

This package imports nothing from the pipeline, sinks or API at run time: they call into it
(the pipeline is handed to `wiring.OeeLink`).
"""
