"""Notebook grading: execute PA3.ipynb, export what it trained, judge it from outside the kernel."""
