"""The command line: cli parses `logtray <command>`, and each other module is one
subcommand (`add_parser(sub)` registers it, `run(args)` does it).

May import everything below it: logtray.tray.desktop, delivery, alerts, base and
logtray.stack.
"""
