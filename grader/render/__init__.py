"""Renderers of graded results: the terminal report (terminal), one submission's HTML feedback page
(feedback_html) and a class's summary page (class_summary)."""
