"""Models: one embedder, small heads on its vectors, language detection."""
