"""Bamboogle (125 two-hop questions answered with a search tool), the ToolRL paper's third benchmark.

- ``items``: the questions and gold answers of ToolRL's release (``data.json``);
- ``prompts``: the ``Search`` tool, ToolRL's system prompt, per-round prompts and nudges (``toolrl``
  protocol: ToolRL's ``benchmarks/Bamboogle/generate.py`` byte for byte), and the ``strict`` protocol's
  chat messages (the judge's prompt is the evaluation's, ``verl_toolrl.eval.bamboogle``);
- ``search``: the search engines (Serper, a local BM25 index, a Search-R1 retrieval server) and the
  environment (an episode's ``ToolEnvironment``) that runs a trajectory's searches;
- ``rounds``: one question as the shared multi-turn episode (``tasks/episode.py``): the renderer and
  decoder of each protocol, the search engine as its environment, the answer.
"""
