"""Screening a candidate before training: cheap features (``features``) and the pre-screen
(``prescreen``) that rejects broken ones; the surrogate searcher ranks by the same features."""
