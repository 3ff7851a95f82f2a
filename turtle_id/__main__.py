from turtle_id.cli import main

raise SystemExit(main())
