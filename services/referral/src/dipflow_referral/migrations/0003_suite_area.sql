-- The borough a detention's custody suite serves, as custody's booking says it: the area of the detention's
-- required assessment and bail case, and K4's borough (no second copy of custody's suite catalogue).
ALTER TABLE detentions ADD COLUMN suite_area text;
