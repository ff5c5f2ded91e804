"""nemotron.kit: the overview API in one import."""
