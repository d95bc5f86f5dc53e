"""HTTP routers, one per domain. No SQL and no model code here: routes call the pipeline/store."""
