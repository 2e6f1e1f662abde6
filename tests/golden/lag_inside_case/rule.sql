CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT sum(v) AS total,
       CASE WHEN lag(sum(v)) IS NULL THEN 'first'
            WHEN sum(v) > lag(sum(v)) THEN 'up'
            ELSE 'not_up' END AS trend
FROM s GROUP BY TumblingWindow('10s');
