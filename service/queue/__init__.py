"""The moderators' queue: what needs attention, in what order, and why; and its workflow."""
