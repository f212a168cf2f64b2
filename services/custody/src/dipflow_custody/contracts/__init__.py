"""Wire contracts: the events custody produces, what it consumes, and the commands it takes on its topic."""
