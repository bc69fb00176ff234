"""Reading ldirectord.cf: directives table, parser, immutable model, diagnostics."""
