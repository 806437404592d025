"""Mitsubishi MELSEC MC protocol / SLMP, 3E binary frame: frame codec, addresses, read planner.

Pure modules only: no socket is opened here. The poller that moves the bytes is wired on top.
"""
