"""The ledger: the truth about every report, in SQL.

`schema` and `migrations/` define the tables; `lifecycle` (states and allowed moves) and
`chain` (the per-report hash chain) are pure; `uow` opens one transaction with the stores
`reports`, `outbox`, `idempotency`, `queries`, `health`, `alerts`, `contents` and
`chains`; `topology` names every queue and task; `outbox`, `idempotency` and `alerts` also
hold the scheduler jobs that act on them. Content privacy: `content_crypto` and
`checkpoint` are pure; `retention`, `access`, `key_rotation`, `verification` and
`checkpoints` are its jobs.
"""
