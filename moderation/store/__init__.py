"""Redis is the system of record: key layout, atomic scripts, one module per stored thing."""
