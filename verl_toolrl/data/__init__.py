"""Training and validation data: raw dataset records in, verl parquet rows out.

Data flows one way: raw record → per-source converter (``toolace``, ``xlam``, ``hammer``, ``rlla``,
``bfcl``, ``apibank``) → :class:`~verl_toolrl.data.schema.Sample` → :func:`~verl_toolrl.data.schema.build_row`
(rendered with ``verl_toolrl.core.prompts``/``verl_toolrl.core.calls`` and checked against the reward) →
:func:`~verl_toolrl.data.schema.write_parquet`. ``mix`` assembles the paper's 4k training set from the
converters. The command-line front ends live in ``data_preprocess/`` and ``verl_toolrl.data.cli``.
"""
