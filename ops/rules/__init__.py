"""Every health rule once, as data: each signal's levels, minimum volume and wording (``signals``),
rendered as SQL for the fleet query (``sql``) and as a Python predicate for the pages, the API
and the alert evaluator (``evaluate``); when an error episode began (``episode``); the cost
rule (``cost``) and the right-sizing rule (``rightsizing``).

Nothing here queries the database: selectors read, then hand rows to these rules.
"""
