"""Marac's pure rules: no I/O, no framework, no clock (`today` and `now` are passed in)."""
