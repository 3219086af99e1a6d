"""The kernel: hook specs, plugin host, tools, agent loop, messages, LLM protocol."""
