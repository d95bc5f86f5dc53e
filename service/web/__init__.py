"""The dashboard: server-rendered pages over the same library calls as the API."""
