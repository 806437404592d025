"""Test helpers that run real servers on loopback (mosquitto, Modbus) and wait with deadlines."""
