"""The assignment's graded tests: rubric, trusted helpers, public and hidden specs, and the oracle."""
