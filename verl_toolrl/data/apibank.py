"""API-Bank (ToolRL's processed levels) → validation samples, through the evaluation's own loader.

Items, and their tools and dialogue read out of the released prompt, come from the task,
:mod:`verl_toolrl.tasks.apibank` (``level-N-api_processed.json``). In the ``toolrl`` format the prompt is
ToolRL's released one, verbatim, as the evaluation uses it; in the ``hermes`` format the row's prompt is
rendered from the tools and dialogue with ``verl_toolrl.core.prompts``, as the evaluation renders it
(:func:`verl_toolrl.tasks.apibank.item_prompt`).
"""

from __future__ import annotations

from verl_toolrl.core.calls import Format
from verl_toolrl.data.schema import Sample
from verl_toolrl.tasks.apibank import ApiBankItem, apibank_tools, apibank_turns

SOURCE = "apibank"


def apibank_sample(item: ApiBankItem, format: Format = "toolrl", row: int = -1) -> Sample:
    """The validation sample of one :class:`~verl_toolrl.tasks.apibank.ApiBankItem`.

    >>> from verl_toolrl.tasks.apibank import item_from_record
    >>> system = ("**Available Tools**\\nIn your response, you can use the following tools:\\n"
    ...           "1. Name: f\\nDescription: d\\nParameters: {}\\n\\n**Steps for Each Turn**\\n")
    >>> record = {"system": system, "user": "<user> Go.</user>", "answer": [{"name": "f", "parameters": {}}]}
    >>> item = item_from_record(record, 2, 0)
    >>> s = apibank_sample(item)
    >>> s.source_id, s.category, s.query, s.messages[1]["content"]
    ('level-2-0', 'level-2', 'Go.', '<user> Go.</user>')
    """
    system, user = item.messages[0]["content"], item.messages[1]["content"]
    tools, turns = apibank_tools(system), apibank_turns(user)
    return Sample(
        source=SOURCE,
        source_id=item.id,
        tools=tools,
        turns=turns,
        calls=tuple(item.gold),
        category=f"level-{item.level}",
        split="test",
        row=row,
        messages=tuple(item.messages) if format == "toolrl" else (),
    )
