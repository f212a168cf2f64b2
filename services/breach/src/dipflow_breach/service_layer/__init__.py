"""The service layer: functions that take a unit of work and a command; no SQL, no HTTP."""
