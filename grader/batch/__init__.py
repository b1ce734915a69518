"""Batch grading of a class: discover submissions, grade them on a pool or a Dask cluster, report."""
