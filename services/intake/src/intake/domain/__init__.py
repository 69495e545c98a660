"""Intake's rules: what makes a report acceptable, and what identifies it."""
