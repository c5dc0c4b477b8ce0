"""Evaluating, explaining and applying trained classifiers (the library behind tools/)."""
