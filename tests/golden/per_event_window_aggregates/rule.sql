-- A per-event sliding window (one window ending at each event, looking back 10 s) with keys
-- and aggregates: each event's window holds the rows of every key within its range.
CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');
CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT k, count(*) AS n, sum(v) AS total, window_start() AS ws, window_end() AS we
FROM s GROUP BY k, PerEventSlidingWindow('10s') ORDER BY k;
