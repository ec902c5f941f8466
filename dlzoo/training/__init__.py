"""training: see ARCHITECTURE.md."""
