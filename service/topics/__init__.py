"""Recurring issues and feedback topics: cluster, label, track, assign."""
