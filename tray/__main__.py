from logtray.tray.commands.cli import main

raise SystemExit(main())
