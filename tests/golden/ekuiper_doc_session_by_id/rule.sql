-- eKuiper docs, windows, "Session window": SELECT count(*) FROM demo GROUP BY ID, SESSIONWINDOW(mi, 2, 1)
-- (timeout 1 minute, maximum duration 2 minutes).
CREATE STREAM demo WITH (TOPIC = 'demo/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE RULE session WITH (TOPIC = 'out/session') AS
SELECT ID, count(*) AS count, window_start() AS ws, window_end() AS we
FROM demo GROUP BY ID, SESSIONWINDOW(mi, 2, 1) ORDER BY ID;
