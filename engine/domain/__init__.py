"""The rules of the domain, without I/O: roles and levels, voting and thresholds (rules), money,
matters, errors, certificates' wording, the clock (Beijing time) and who may act (authz)."""
