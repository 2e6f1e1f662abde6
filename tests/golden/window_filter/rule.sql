-- Issue 16 item 1: a window's FILTER (WHERE ...) decides which events enter the window.
CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT count(*) AS n, collect(revenue) AS vs FROM s GROUP BY COUNTWINDOW(3) FILTER (WHERE revenue > 100);
CREATE RULE t WITH (TOPIC = 'out/t') AS
SELECT count(*) AS n, sum(revenue) AS total FROM s WHERE shop = 'a'
GROUP BY TumblingWindow('10s') FILTER (WHERE revenue > 100);
