"""config: see ARCHITECTURE.md."""
