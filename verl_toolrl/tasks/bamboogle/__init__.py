"""Bamboogle (125 two-hop questions answered with a search tool), the ToolRL paper's third benchmark.

- ``items``: the questions and gold answers of ToolRL's release (``data.json``);
- ``prompts``: the ``Search`` tool, ToolRL's system prompt, per-round prompts and nudges, and the judge's
  prompt (``toolrl`` protocol: ToolRL's ``benchmarks/Bamboogle/generate.py`` byte for byte), and the
  ``strict`` protocol's chat messages;
- ``search``: the search engines (Serper, a local BM25 index, a Search-R1 retrieval server) and the
  environment that runs a trajectory's searches;
- ``rounds``: one question's rounds (prompt, output, searches, answer) under either protocol.
"""
