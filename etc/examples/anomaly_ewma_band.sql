-- Example: EWMA smoothing and an EWMA deviation band per sensor.
-- Tested by tests/golden/anomaly_ewma_band (input and expected output there).

CREATE STREAM pressure WITH (TOPIC = 'sensors/+/pressure', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

-- EWMA (alpha 0.3) and a 3-sigma EWMA deviation band per sensor.
CREATE RULE pressure_band WITH (TOPIC = 'analytics/pressure_band') AS
SELECT sensor, value,
       round(ewma(value, 0.3) OVER (PARTITION BY sensor), 3) AS smoothed,
       ewma_band(value, 0.3, 3) OVER (PARTITION BY sensor) AS anomalous
FROM pressure;
