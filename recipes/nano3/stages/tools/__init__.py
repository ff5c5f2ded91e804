"""Maintenance scripts of the nano3 stages (not imported by a stage at run time)."""
