"""Trusted helpers shared by the specs: comparisons, finite differences, the loop rule, the Iris split."""
