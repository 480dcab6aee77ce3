from streamdash.cli import main

raise SystemExit(main())
