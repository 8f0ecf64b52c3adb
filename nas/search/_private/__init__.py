"""Internals of nas.search: import from the public modules instead."""
