"""One thin module per command-line subcommand."""
