-- Issue 16 item 9: MAXAHEAD keeps one device with a clock far ahead from moving the watermark.
CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '5s', MAXAHEAD = '5m');
CREATE RULE per_min WITH (TOPIC = 'out/per_min', LATE_TOPIC = 'out/per_min/late') AS
SELECT window_start() AS ws, count(*) AS n, collect(device) AS devices FROM s GROUP BY TumblingWindow('1m');
CREATE STREAM plain WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '5s');
CREATE RULE per_min_plain WITH (TOPIC = 'out/per_min_plain', LATE_TOPIC = 'out/per_min_plain/late') AS
SELECT window_start() AS ws, count(*) AS n, collect(device) AS devices FROM plain GROUP BY TumblingWindow('1m');
