from logtray.tray.cli import main

raise SystemExit(main())
