CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT k, window_start() AS ws, window_end() AS we, count(*) AS n, sum(v) AS total,
       min(v) AS lo, max(v) AS hi, avg(v) AS mean
FROM s GROUP BY k, TumblingWindow('10s') ORDER BY k;
