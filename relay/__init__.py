"""The composition root: settings, start-up and wiring; no domain logic.

`settings` is the one settings object, `bootstrap` builds the container, `preflight` is what
a process makes sure of before it starts (and what the API's `/readyz` asks), `celery_app` and
`broker` speak to the broker, `wiring` is the table of what runs when, `scheduler` and
`background` run the periodic jobs, `embedded` is `relay run`; `content_keys` reads the
content key ring and signing key at start-up, `privacy` builds their periodic jobs and
`checkpoint_log` writes checkpoints out; `cli/` is the `relay` command and `demo/` the demo
and benchmark.
"""
