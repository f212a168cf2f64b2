"""Reference data of the custody service: offences, trigger-offence table, specified drugs, stations."""
