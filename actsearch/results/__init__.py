"""actsearch.results."""
