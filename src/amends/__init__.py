"""Amends: a service-recovery engine."""

__version__ = "0.1.0"
