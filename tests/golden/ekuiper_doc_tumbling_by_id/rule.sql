-- eKuiper docs, windows, "Tumbling window": SELECT count(*) FROM demo GROUP BY ID, TUMBLINGWINDOW(ss, 10)
-- (output column named: eKuiper names an unaliased count(*) `count`; ORDER BY for a defined order).
CREATE STREAM demo WITH (TOPIC = 'demo/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE RULE tumbling WITH (TOPIC = 'out/tumbling') AS
SELECT ID, count(*) AS count FROM demo GROUP BY ID, TUMBLINGWINDOW(ss, 10) ORDER BY ID;
