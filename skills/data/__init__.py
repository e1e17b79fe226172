"""Bundled sample files: the catalogue and skill matrix of a fictitious town hall."""
