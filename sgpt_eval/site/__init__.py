"""The results site: a static folder (HTML, CSS, JS, the data as a script) built from `results/`
that opens from disk with no server and no network. `data` builds the site's content as plain
JSON-able values from the reports, `reproduce` writes the command that re-runs one report, and
`render` writes the folder."""
