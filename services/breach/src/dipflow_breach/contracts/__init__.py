"""Wire contracts: the events breach produces, what it consumes, and the commands probation sends it."""
