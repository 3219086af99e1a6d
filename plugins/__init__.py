"""Capabilities the agent can use, each a default plugin registering tools via hooks."""
