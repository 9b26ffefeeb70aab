"""Selectors read. Keyword-only, typed, named <entity>_<what>; views and the evaluator call them."""
