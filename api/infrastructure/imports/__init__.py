"""Contact imports' file adapters: what an uploaded file is (`sniff`), and reading it as
a sheet of rows, streaming (`sheets`)."""
