from latentdreamer.cli import main

raise SystemExit(main())
