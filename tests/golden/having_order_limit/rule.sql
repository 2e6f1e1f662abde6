CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE top WITH (TOPIC = 'out/top') AS
SELECT k, count(*) AS n, sum(v) AS total
FROM s GROUP BY k, TumblingWindow('1m')
HAVING n >= 2 AND sum(v) > 1
ORDER BY total DESC
LIMIT 2;
