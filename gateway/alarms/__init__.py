"""Alarms at the edge (SPEC "Alarms", issue 17): limits with hysteresis, delay, acknowledgement.

- `config.alarms` (in `gateway.config`): the `alarms:` of a signal and their checks;
- `engine`: the pure state machine of every alarm, fed one batch per device scan;
- `events`: `AlarmEvent`, the present state of an alarm after each change;
- `store`: the small JSON file that carries alarm state across a restart;
- `service`: `AlarmService`, what the gateway wires between the pipeline and sinks/API;
- `reports`: `PipelineAlarms`, the service as a pipeline observer whose changes become Reports.
"""
