"""Figures, the headline summary, the report and comparison pages."""
