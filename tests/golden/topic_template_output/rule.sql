CREATE STREAM readings WITH (TOPIC = 'plant/+/readings', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

-- One output topic per row: {name} is an output column of the rule. A value fills exactly one
-- topic level: '/', '+', '#' and NUL become '_', NULL or '' becomes '_', and a topic that would
-- start with '$' starts with '_' instead. {{ and }} are literal braces.
CREATE RULE routed WITH (TOPIC = 'alerts/{line}/{device_id}/temp{{C}}') AS
SELECT device_id, line, temp FROM readings WHERE temp > 80;

-- Per-window rows go to per-group topics too; late rows of a templated rule go to
-- streamgate/rules/<rule>/late unless LATE_TOPIC says otherwise.
CREATE RULE per_device WITH (TOPIC = '{device_id}/avg') AS
SELECT device_id, avg(temp) AS avg_temp FROM readings
GROUP BY device_id, TumblingWindow('1m') ORDER BY device_id;
