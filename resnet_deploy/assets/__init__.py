"""Files shipped with the package: the embedded default model and its card."""
