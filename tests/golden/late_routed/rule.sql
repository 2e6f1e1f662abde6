CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE r WITH (TOPIC = 'out/r', LATE_TOPIC = 'out/r/late') AS
SELECT window_start() AS ws, count(*) AS n, sum(v) AS total
FROM s GROUP BY TumblingWindow('10s');
