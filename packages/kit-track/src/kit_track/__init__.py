"""kit_track."""
