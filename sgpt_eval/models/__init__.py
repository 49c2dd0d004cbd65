"""Models: presets, where weights come from, and the SGPT bi-encoder and cross-encoder built on them."""
