"""The store's SQL beyond messages and topics, split by domain (mixins of ``Store``)."""
