"""plots: see ARCHITECTURE.md."""
