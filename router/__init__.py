"""Routing: which recipient's case system gets a report, through every municipality's history.

`registry` (and `data/`) knows every municipality, former number and bydel; `routes` reads
the routes file and `live` reloads it without a restart; `resolve` is the pure decision;
`stage` records ROUTED or HELD; `check` finds gaps in a routes file; `held` lists and
re-routes parked reports.
"""
