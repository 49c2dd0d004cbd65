"""Evaluation: what one run is (`specs`), the one pipeline that runs it, and the metrics it scores."""
