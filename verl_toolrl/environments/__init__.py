"""Tool environments: stateful tools that execute parsed model calls (evaluation and training share them)."""
