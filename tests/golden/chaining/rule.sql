CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE per_min WITH (TOPIC = 'out/per_min') AS
SELECT k, count(*) AS n FROM s GROUP BY k, TumblingWindow('1m') ORDER BY k;

CREATE RULE busy WITH (TOPIC = 'out/busy') AS
SELECT k, n FROM per_min WHERE n >= 2;

CREATE RULE per_5min WITH (TOPIC = 'out/per_5min') AS
SELECT window_start() AS ws, count(*) AS windows, sum(n) AS events
FROM per_min GROUP BY TumblingWindow('5m');
