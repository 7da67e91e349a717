"""VeloLLM: a declarative configuration manager for local LLM servers."""

__version__ = "0.1.0"
