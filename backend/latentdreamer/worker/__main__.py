"""`python -m latentdreamer.worker`: the command the add-on starts (the same as `latentdreamer worker`)."""

from latentdreamer.cli.main import main

raise SystemExit(main(["worker", *__import__("sys").argv[1:]]))
