"""Command-line front ends of ``verl_toolrl.data``: ``python -m data_preprocess.<name> --help``.

Each module is a thin wrapper over ``verl_toolrl.data.cli.main``; the conversions themselves are the
tested functions of ``verl_toolrl.data``.
"""
