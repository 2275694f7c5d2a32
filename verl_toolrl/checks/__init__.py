"""Checks a user runs before and after training: ``python -m verl_toolrl check|preflight|hub``.

- ``plugin``: is the plugin registered in verl, and is ``VERL_PLATFORM`` valid;
- ``config``: compose a recipe and refuse bad ``reward.reward_kwargs`` overrides in one line;
- ``preflight``: a recipe and its data on CPU, through verl's own classes;
- ``hub``: does the Hugging Face hub answer;
- ``stand_in``: a locally built tokenizer for machines without the hub;
- ``training_log``: a run's per-step table and reward components.
"""
