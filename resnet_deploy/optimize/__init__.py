"""`optimize`: search precisions, calibration methods and float layers for the fastest artifact
within a top-1 budget, on the user's own images."""
