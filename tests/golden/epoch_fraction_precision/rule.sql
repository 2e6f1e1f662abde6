-- Issue 16 item 6: fractional epoch seconds are read from their decimal digits, not number * 1e9.
CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE RULE w WITH (TOPIC = 'out/w') AS
SELECT count(*) AS n, collect(v) AS vs, window_start() AS ws FROM s GROUP BY TumblingWindow('250ms');
CREATE RULE t WITH (TOPIC = 'out/t') AS
SELECT v, event_time() AS t FROM s;
