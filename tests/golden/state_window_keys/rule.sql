CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
-- One window per key: opens on v > 10, closes (with that event) on v < 5.
CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT k, count(*) AS n, collect(v) AS vs, window_start() AS ws, window_end() AS we
FROM s GROUP BY k, STATEWINDOW(v > 10, v < 5);
-- No key: one window over all events. v = 30 meets both conditions: a window of one event.
CREATE RULE r2 WITH (TOPIC = 'out/r2') AS
SELECT count(*) AS n, collect(v) AS vs FROM s GROUP BY STATEWINDOW(v >= 12, v >= 20);
