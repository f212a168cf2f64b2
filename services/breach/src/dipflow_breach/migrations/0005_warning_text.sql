-- D2: a formal warning is kept as it was given (the failure, that it is unacceptable, the 12-month consequence).
ALTER TABLE warnings ADD COLUMN text text;
