"""Ranking metrics (pure functions) and the evaluation pass over all users."""
