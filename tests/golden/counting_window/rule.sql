CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT count(*) AS n, sum(v) AS total, min(v) AS lo, max(v) AS hi
FROM s GROUP BY CountingWindow(3);
