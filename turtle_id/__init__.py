"""Turtle ID: photo identification of individual sea turtles, offline."""

import os

# onnxruntime phones home (a telemetry endpoint) some seconds after a session starts unless
# this is set before it is imported; rangers work offline and nothing may leave the laptop.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"
