"""One module per CLI subcommand: `add_parser(sub)` registers it, `run(args)` does it."""
