"""The service layer: functions that take a command and a unit of work; no SQL, no HTTP."""
