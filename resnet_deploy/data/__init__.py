"""Image discovery, safe decoding and the one preprocessing implementation."""
