"""redun-tui: the terminal UI for the redun daemon."""
