"""The ledger: the truth about every report, in SQL.

`schema` and `migrations/` define the tables; `lifecycle` (states and allowed moves) and
`chain` (the per-report hash chain) are pure; `uow` opens one transaction with the stores
`reports`, `outbox`, `idempotency`, `queries`, `health` and `alerts`; `topology` names
every queue and task; `outbox`, `idempotency` and `alerts` also hold the scheduler jobs
that act on them.
"""
