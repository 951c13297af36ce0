from callpipe_cli.main import main

raise SystemExit(main())
