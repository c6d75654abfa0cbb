"""actsearch.search."""
