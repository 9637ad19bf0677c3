"""Delivery: pushing a report to its case system and proving it was stored.

`base` is the one interface every vendor adapter implements (`rest_json`, `fiks_io`,
chosen in `registry`); `retry`, `breaker` and `outcomes` are the pure decisions;
`stage` claims, pushes and settles one attempt; `scheduled` is the scheduler's timed work
for deliveries; `receipts` handles fiks-io receipts; `proof` reads back and reconciles;
`dead_letters` holds operators' actions; `sandbox/` simulates case systems.
"""
