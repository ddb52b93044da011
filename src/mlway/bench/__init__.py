"""mlway bench: load-test OpenAI-compatible LLM servers."""
