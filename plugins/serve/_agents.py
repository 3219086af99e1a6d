"""The served agent, and one variant per set of request sampling options.

An :class:`~sapient.Agent` keeps no state of a run on itself (messages, usage, events
and tool records live in the run), so one agent answers any number of concurrent
requests without them seeing each other; ``tests/serve`` checks that under load.
Building an agent costs milliseconds (its plugin manager), so the server builds the
configured one at start and one variant per distinct set of request options
(temperature, max_tokens, ...), kept in a small least-recently-used pool.
"""

from __future__ import annotations

import importlib
import json
from collections import OrderedDict
from typing import Any

from sapient import Agent, ConfigurationError, Host

from ._approvals import approver
from ._config import DEFAULT_SYSTEM_PROMPT, ServeConfig

__all__ = ["AgentPool", "build_agent", "load_plugins"]


def load_plugins(plugins: list[Any]) -> list[Any]:
    """Plugin objects, importing the ones given as module paths."""
    loaded = []
    for plugin in plugins:
        if isinstance(plugin, str):
            try:
                plugin = importlib.import_module(plugin)
            except Exception as exc:
                raise ConfigurationError(f"Cannot import the plugin module '{plugin}' "
                                         f"({type(exc).__name__}: {exc}). Check the name and "
                                         "that it is on PYTHONPATH.") from None
        loaded.append(plugin)
    return loaded


def build_agent(config: ServeConfig, host: Host | None, plugins: list[Any]) -> Agent:
    """The configured agent, with its LLM, tools and plugin manager resolved now.

    Resolving at start turns a wrong LLM spec or tool name into an error before the
    server listens, instead of a 500 on the first request.
    """
    agent = Agent(
        config.llm,
        tools=list(config.tools or ()),
        system_prompt=DEFAULT_SYSTEM_PROMPT if config.system_prompt is None else config.system_prompt,
        max_steps=config.max_steps,
        plugins=plugins,
        host=host,
        model_options=dict(config.model_options),
        approve=approver,  # a call that needs a yes goes to the client (_approvals.py)
    )
    agent.pm  # noqa: B018 - builds the plugin manager (and the default host if none was given)
    if config.tools is None:
        for t in agent.host.tools().values():
            if t.name not in agent.tools:
                agent.add_tool(t)
    agent.llm  # noqa: B018 - resolves the LLM spec now
    return agent


class AgentPool:
    """The configured agent plus variants for request options, at most ``size`` of them."""

    def __init__(self, base: Agent, plugins: list[Any], size: int = 32) -> None:
        self.base = base
        self._plugins = plugins
        self._size = size
        self._variants: OrderedDict[str, Agent] = OrderedDict()

    def get(self, options: dict[str, Any]) -> Agent:
        """The agent for a request's options (the base one when it sets none)."""
        if not options:
            return self.base
        key = json.dumps(options, sort_keys=True, default=str)
        agent = self._variants.get(key)
        if agent is None:
            base = self.base
            agent = Agent(base.llm, tools=list(base.tools.values()),
                          system_prompt=base.system_prompt, max_steps=base.max_steps,
                          plugins=self._plugins, host=base.host,
                          model_options={**base.model_options, **options},
                          approve=base.approve)
            self._variants[key] = agent
            while len(self._variants) > self._size:
                self._variants.popitem(last=False)
        else:
            self._variants.move_to_end(key)
        return agent
