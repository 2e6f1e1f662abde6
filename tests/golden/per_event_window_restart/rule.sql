CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '2s');
CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT count(*) AS n, sum(v) AS total FROM s GROUP BY PerEventSlidingWindow('3s');
