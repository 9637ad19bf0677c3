"""Intake: reports from the national portal, accepted exactly per the KS protocol.

`parsing` reads the body, `validation` checks it against the KS JSON Schemas (`schemas`,
`protocol/`) and the typed models (`models`), `service` stores it durably in one unit of
work; none of these import FastAPI or SQLAlchemy. `api` is the HTTP edge (problem+json for
every error, a 202 only after the commit), `openapi` its document, `client` the Python
client portal developers use.
"""
