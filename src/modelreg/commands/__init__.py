"""One module per CLI command, named after it (`import_.py` for a keyword), each composing
the core packages below it. `modelreg.cli` registers them and imports each on demand."""
