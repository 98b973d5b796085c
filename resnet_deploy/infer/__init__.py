"""Batched classification of image files and folders, streamed to JSONL/CSV, resumable."""
