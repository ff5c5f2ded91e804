"""kit_artifacts."""
