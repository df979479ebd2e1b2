"""`make chaos`: the whole platform as real processes under a steady load while a seeded fault
injector kills them and restarts the broker and the database; then the ledger is counted.

supervisor (the processes and the servers, brought back as a deployment would), load (whole
dispute lifecycles over HTTP, open loop), faults (the seeded schedule and its injection),
ledger (what must balance afterwards), report (the table and the JSON), harness (all of it).
"""
