"""The grammar and the prompt text, free of verl and torch: the lowest layer.

- ``calls``: the tool-call grammar: parse and render both output formats, reason codes;
- ``prompts``: the system prompt and dialogue rendering (one source of truth);
- ``tools``: tool descriptions, every source's layout read into one and written out for each format;
- ``errors``: what goes wrong with input records (file, row, field, reason), for data and tasks alike;
- ``chat_template``: tool prompts through a model's chat template, and think-prefill detection;
- ``progress``: the one progress bar the commands show;
- ``table``: the one markdown-table writer.
"""
