"""actsearch.search.searchers."""
