"""The operators' console: a web view of every recipient and report, and the actions on
parked reports, served under `/console` by the intake API (`relay api`, `relay run`).

Operators log in with accounts of their own (`relay console add-user`), as viewers (who
see) or operators (who act). Pages show metadata only, never a report's content; every
action asks for a reason and is recorded in the ledger as `operator:NAME`.

- `app`: the ASGI app and its error pages; `auth`: the guard, login, logout and CSRF;
  `accounts` and `passwords`: accounts, sessions and password hashes;
- `pages` (GET) and `actions` (POST), with what they read in `overview`, `reports` and
  `recipients`; `context`: what they share;
- `templates/` and `static/`: the HTML and the one style sheet (no scripts).
"""
