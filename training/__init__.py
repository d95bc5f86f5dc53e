"""Programs that rebuild the artifacts in models/ from real data."""
