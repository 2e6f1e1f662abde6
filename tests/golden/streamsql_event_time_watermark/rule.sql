-- StreamSQL README, "Watermark Mechanism": event time from `eventTime` (ms), 5 s out of order,
-- 2 s allowed lateness. StreamSQL writes the options after GROUP BY; here they belong to the stream.
CREATE STREAM stream WITH (TOPIC = 'sensors/+/data', FORMAT = 'json', TIMESTAMP = 'eventTime',
  MAXOUTOFORDERNESS = '5s', ALLOWEDLATENESS = '2s');
CREATE RULE counts WITH (TOPIC = 'out/counts', LATE_TOPIC = 'out/late') AS
SELECT deviceId, COUNT(*) as cnt
FROM stream
GROUP BY deviceId, TumblingWindow('5m') ORDER BY deviceId;
