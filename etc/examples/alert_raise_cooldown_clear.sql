-- Example: CREATE ALERT with SEVERITY, COOLDOWN, CLEAR_AFTER and KEY (raised / held back / cleared).
-- Tested by tests/golden/alert_raise_cooldown_clear (input and expected output there).

CREATE STREAM machine_temps WITH (TOPIC = 'machines/+/temp', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

-- Raised once per sensor when its temperature goes above 80, cleared once it has been 80 or
-- below for a minute; after a clear, a new raise for the same sensor waits until 10 minutes
-- after the previous raise (and is dropped if the condition clears first).
CREATE ALERT overheat WITH (TOPIC = 'alerts/overheat', SEVERITY = 'critical', COOLDOWN = '10m',
                            CLEAR_AFTER = '1m', KEY = 'sensor') AS
SELECT sensor, temp FROM machine_temps WHERE temp > 80;
