-- eKuiper's window join: the rows of both streams in one 10-second window are joined when it
-- fires (the slower stream's watermark passes its end); aggregates run over the joined rows.
CREATE STREAM demo WITH (TOPIC = 'in/demo', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE STREAM demo2 WITH (TOPIC = 'in/demo2', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE per_id WITH (TOPIC = 'out/per_id') AS
SELECT demo.id AS id, window_start() AS ws, count(*) AS pairs, avg(demo.temp) AS t, max(demo2.hum) AS h
FROM demo INNER JOIN demo2 ON demo.id = demo2.id
GROUP BY demo.id, TUMBLINGWINDOW(ss, 10)
ORDER BY id;

-- LEFT JOIN, no aggregates: one row per pair, and each demo row without a partner in its window
-- once with hum NULL; rows of a window in event-time order of the left row.
CREATE RULE rows_left WITH (TOPIC = 'out/rows_left') AS
SELECT demo.id AS id, demo.temp AS temp, demo2.hum AS hum
FROM demo LEFT JOIN demo2 ON demo.id = demo2.id
GROUP BY TUMBLINGWINDOW(ss, 10);
