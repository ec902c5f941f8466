"""runs: see ARCHITECTURE.md."""
