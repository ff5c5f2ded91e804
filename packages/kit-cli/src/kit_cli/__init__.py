"""kit_cli."""
