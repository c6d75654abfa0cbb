"""actsearch.grammar."""
