"""Datasets on disk: BEIR (corpus, queries, qrels), USEB's data-eval folders, and their downloads."""
