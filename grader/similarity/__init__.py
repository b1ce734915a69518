"""Code similarity across a class (``pa3 similarity``, ``pa3 batch --similarity``).

sources.py reads each submission's code (the five modules and the notebook's code cells, bounded), fingerprint.py
fingerprints it with copydetect (names normalised, the starter code and code common to much of the class removed)
and scores each pair by the code it shares in long runs only, report.py writes similarity.json and
similarity.html, run.py ties them together.
"""
