"""The ``toolrl_tool_template`` agent loop: verl's single-turn rollout, the row's tools in the chat template.

verl 0.9.1's ``single_turn_agent`` renders each prompt with the model's chat template but without tools
(``SingleTurnAgentLoop.run`` calls ``ct_build_initial_tokens(messages, ...)`` without ``tools=``), so a
model is shown its tools only where the data wrote them into the system prompt. This loop is that same
class, unchanged, except that the prompt's token builder receives the row's tool schemas
(``extra_info.tools``, JSON): the Qwen/Hermes templates then write their own ``# Tools`` block, the one the
model was post-trained with. Rows for it come from the data commands with ``--format hermes
--tool-prompt template`` (the system prompt then leaves the tools out); select it for every row with
``actor_rollout_ref.rollout.agent.default_agent_loop=toolrl_tool_template`` (or an ``agent_name`` column).

verl instantiates one loop per trajectory in its ``AgentLoopWorker`` (``hydra.utils.instantiate`` of the
registry entry), so the row's tools are kept on the instance for that one ``run``.
"""

from __future__ import annotations

from typing import Any

from verl.experimental.agent_loop.agent_loop import AgentLoopOutput, register
from verl.experimental.agent_loop.single_turn_agent_loop import SingleTurnAgentLoop

from verl_toolrl.core.chat_template import TOOL_TEMPLATE_AGENT, row_tools


@register(TOOL_TEMPLATE_AGENT)
class ToolTemplateAgentLoop(SingleTurnAgentLoop):
    """``single_turn_agent`` whose prompt is rendered with ``tools=`` the row's ``extra_info.tools``."""

    _tools: list[dict[str, Any]] | None = None

    async def run(self, sampling_params: dict[str, Any], **kwargs: Any) -> AgentLoopOutput:
        self._tools = row_tools(kwargs.get("extra_info"), list(kwargs["raw_prompt"])) or None
        return await super().run(sampling_params, **kwargs)

    async def ct_build_initial_tokens(
        self, messages: list[dict], tools: list[dict] | None = None, **kwargs: Any
    ) -> list[int]:
        tools = self._tools if tools is None else tools
        return await super().ct_build_initial_tokens(messages, tools=tools, **kwargs)
