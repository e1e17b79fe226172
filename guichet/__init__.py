"""Guichet: one queue for every channel of a town hall's single front desk."""

__version__ = "0.1.0"
