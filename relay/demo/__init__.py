"""`relay demo` and `relay bench`: the whole pipeline on simulated municipalities.

`scenario` is the demo's recipients and reports, `stack` starts the simulated case systems
and `relay run`, `run` drives the demo and checks its verdict, `bench` measures.
"""
