"""Run Lambda handlers in local worker processes, one warm environment per concurrent call."""
