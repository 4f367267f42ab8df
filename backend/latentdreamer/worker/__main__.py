"""`python -m latentdreamer.worker`: the command the add-on starts (the same as `latentdreamer worker`).

The worker's own edge: thread settings from the environment before torch loads, then the
server. (`latentdreamer worker` reaches the same `server.run` through the CLI's table.)
"""

import os
import sys

from latentdreamer import threads
from latentdreamer.worker import server


def main(argv: list[str]) -> int:
    try:
        threads.configure_from_environment(os.environ, one_shot=False)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return server.main(argv)


raise SystemExit(main(sys.argv[1:]))
