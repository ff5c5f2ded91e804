"""kit_run."""
