"""actsearch.evaluators."""
