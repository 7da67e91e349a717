"""Everything that talks to, or reads the state of, an Ollama server."""
