from logcenter.cli import main

raise SystemExit(main())
