"""The `latentdreamer` command line: one module per sub-command (main.py dispatches)."""
