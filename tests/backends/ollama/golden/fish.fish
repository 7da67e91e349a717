# Managed by velollm (golden test header).
# Read by fish: add `source <this file>` to ~/.config/fish/config.fish.
set -gx OLLAMA_HOST '0.0.0.0:11434'
set -gx OLLAMA_KEEP_ALIVE '30m'
set -gx OLLAMA_MODELS '/srv/models dir/it\'s'
set -gx OLLAMA_ORIGINS 'app://*,"x"%h'
