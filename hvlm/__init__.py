"""hvlm: the one installed top-level name. Its subpackages are the repository's own folders
(hvlm/audit -> audit/, hvlm/checks -> checks/, hvlm/reports -> reports/), so generic names such as
`audit`, `checks` and `reports`, which other distributions also use, are never installed at the top
level, and nothing another package calls `checks` can stand in for ours."""
