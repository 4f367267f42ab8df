from latentdreamer.worker.server import main

raise SystemExit(main())
