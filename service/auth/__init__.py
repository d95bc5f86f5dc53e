"""Who may do what: API keys with a role and a community scope, dashboard sessions."""
