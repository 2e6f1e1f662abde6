CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT k, sum(v) AS total, lag(sum(v)) AS prev_total, sum(v) - lag(sum(v), 1, 0) AS change,
       collect(DISTINCT u) AS users,
       cardinality(array_intersect(collect(DISTINCT u), lag(collect(DISTINCT u)))) AS retained
FROM s GROUP BY k, TumblingWindow('10s') ORDER BY k;
