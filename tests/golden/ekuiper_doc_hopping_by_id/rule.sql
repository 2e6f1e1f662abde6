-- eKuiper docs, windows, "Hopping window": SELECT count(*) FROM demo GROUP BY ID, HOPPINGWINDOW(ss, 10, 5)
CREATE STREAM demo WITH (TOPIC = 'demo/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE RULE hopping WITH (TOPIC = 'out/hopping') AS
SELECT ID, count(*) AS count, window_start() AS ws, window_end() AS we
FROM demo GROUP BY ID, HOPPINGWINDOW(ss, 10, 5) ORDER BY ID;
