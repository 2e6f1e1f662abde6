-- Issue 16 item 4: an integer beyond 64 bits is read (as a double); the event is never dropped.
CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json');
CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT v, id FROM s;
CREATE RULE c WITH (TOPIC = 'out/c') AS
SELECT v FROM s WHERE v > 1;
