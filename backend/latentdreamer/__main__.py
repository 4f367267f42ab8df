from latentdreamer.cli.main import main

raise SystemExit(main())
