# Managed by velollm (golden test header).
# Read by bash and zsh: add `. <this file>` to the profile of whatever starts `ollama serve`.
export OLLAMA_HOST='0.0.0.0:11434'
export OLLAMA_KEEP_ALIVE='30m'
export OLLAMA_MODELS='/srv/models dir/it'\''s'
export OLLAMA_ORIGINS='app://*,"x"%h'
