"""Alerts: subscriptions per community, events found from stored state, webhook delivery.

subscriptions.py  what may be subscribed to, and create / list / disable
events.py         find events at a moment, each with a deterministic id
payloads.py       one event as generic JSON, a Slack or a Discord incoming-webhook body
deliver.py        signed POSTs, retries with backoff, the delivery log
worker.py         the background thread of the service (and one pass for the CLI)
"""
