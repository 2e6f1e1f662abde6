-- Example: rolling z-score per sensor, and a chained rule keeping the spikes.
-- Tested by tests/golden/anomaly_zscore (input and expected output there).

CREATE STREAM temps WITH (TOPIC = 'sensors/+/temp', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

-- Rolling z-score per sensor over its previous 5 readings (the reading itself excluded).
CREATE RULE temp_z WITH (TOPIC = 'analytics/temp_z') AS
SELECT sensor, temp, round(zscore(temp, 5) OVER (PARTITION BY sensor), 3) AS z FROM temps;

-- Chained: only the readings 3 or more standard deviations away.
CREATE RULE temp_spikes WITH (TOPIC = 'alerts/temp_spikes') AS
SELECT sensor, temp, z FROM temp_z WHERE abs(z) >= 3;
