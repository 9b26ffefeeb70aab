"""A simulated AWS estate for Lambda Ops: moto plus fill-ins, a traffic generator and a ledger.

Nothing here imports the product (``ops`` / ``dashboard``); the product talks to it over HTTP
through boto3 exactly as it would talk to AWS.
"""
