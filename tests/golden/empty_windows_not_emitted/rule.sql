CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT window_start() AS ws, count(*) AS n FROM s GROUP BY TumblingWindow('10s');
CREATE RULE filtered WITH (TOPIC = 'out/filtered') AS
SELECT window_start() AS ws, count(*) AS n FROM s WHERE v > 100 GROUP BY TumblingWindow('10s');
