-- Issue 16 item 5: upper/lower change letters of Latin-1, Latin Extended-A, Greek and Cyrillic.
CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json');
CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT upper(name) AS u, lower(name) AS l FROM s;
