"""Protocol servers for a `Simulation`: Modbus TCP and RTU."""
