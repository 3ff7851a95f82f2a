"""Turtle ID: photo identification of individual sea turtles, offline."""

__version__ = "0.1.0"
