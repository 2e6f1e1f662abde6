CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '5s');

CREATE RULE agg WITH (TOPIC = 'out/agg') AS
SELECT window_start() AS ws, count(*) AS n, sum(v) AS total, min(v) AS lo
FROM s GROUP BY TumblingWindow('10s');
CREATE RULE rows WITH (TOPIC = 'out/rows') AS
SELECT v, ts FROM s GROUP BY TumblingWindow('10s');
