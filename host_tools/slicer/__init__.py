"""Slicer files on a food toolhead: read, classify, plan, stream (issue 14)."""
