CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT k, sum(v) AS total, min(v) AS low, window_start() AS ws
FROM s GROUP BY k, STATEWINDOW(v > 10, v < 5);
