"""Community Pulse: reads community messages and tells moderators and operators what needs attention."""

__version__ = "0.1.0"
