-- StreamSQL README, "Non-Aggregation Mode": the rule as written there (minus NOW(), processing time).
CREATE STREAM stream WITH (TOPIC = 'sensors/+/data', FORMAT = 'json');
CREATE RULE transform WITH (TOPIC = 'out/transform') AS
SELECT deviceId,
       UPPER(deviceType) as device_type,
       temperature * 1.8 + 32 as temp_fahrenheit,
       CASE WHEN temperature > 30 THEN 'hot'
            WHEN temperature < 15 THEN 'cold'
            ELSE 'normal' END as temp_category,
       CONCAT(location, '-', deviceId) as full_identifier
FROM stream
WHERE temperature > 0 AND STARTSWITH(deviceId, 'sensor');
