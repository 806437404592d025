"""Siemens S7 (S7-300/400/1200/1500 over ISO-on-TCP): address parser, read planner and codec.

Pure modules only: no socket is opened here. The poller that moves the bytes is wired on top.
"""
