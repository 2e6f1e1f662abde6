-- A window join over hopping windows (size 10 s, hop 5 s): a pair is counted in every window
-- holding both of its rows.
CREATE STREAM a WITH (TOPIC = 'in/a', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE STREAM b WITH (TOPIC = 'in/b', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

CREATE RULE pairs WITH (TOPIC = 'out/pairs') AS
SELECT a.k AS k, window_start() AS ws, count(*) AS pairs, sum(a.v * b.w) AS s
FROM a JOIN b ON a.k = b.k
GROUP BY a.k, HOPPINGWINDOW(ss, 10, 5);
