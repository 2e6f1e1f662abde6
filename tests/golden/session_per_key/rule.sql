CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT user, window_start() AS ws, window_end() AS we, count(*) AS n
FROM s GROUP BY user, SessionWindow('30s');
