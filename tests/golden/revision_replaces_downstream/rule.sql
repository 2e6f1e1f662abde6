-- Issue 16 item 3: a downstream rule takes a revised row (ALLOWEDLATENESS) as a replacement.
CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s', ALLOWEDLATENESS = '10m');
CREATE RULE per_min WITH (TOPIC = 'out/per_min') AS
SELECT window_start() AS ws, count(*) AS n FROM s GROUP BY TumblingWindow('1m');
CREATE RULE per_5min WITH (TOPIC = 'out/per_5min') AS
SELECT window_start() AS ws, count(*) AS minutes, sum(n) AS events, collect(n) AS ns
FROM per_min GROUP BY TumblingWindow('5m');
CREATE RULE per_5min_rows WITH (TOPIC = 'out/per_5min_rows') AS
SELECT ws, n FROM per_min GROUP BY TumblingWindow('5m');
