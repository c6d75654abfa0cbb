"""actsearch.search: spaces, searchers, screening and the runner (see the package folders)."""
