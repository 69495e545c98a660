"""Triage's pure rules: no I/O, no framework, no clock."""
