CREATE STREAM temps WITH (TOPIC = 'sensors/+/temp', FORMAT = 'json', TIMESTAMP = 'ts', MAXOUTOFORDERNESS = '0s');

-- SQL macros: expanded where they are called, so they cost what the expression costs.
CREATE FUNCTION c_to_f(c) AS c * 9 / 5 + 32;
CREATE FUNCTION clamp(x, lo, hi) AS greatest(lo, least(hi, x));
-- A function may call functions defined before it.
CREATE FUNCTION comfort(c) AS CASE WHEN clamp(c_to_f(c), 0, 200) > 80 THEN 'hot' ELSE 'ok' END;

CREATE RULE fahrenheit WITH (TOPIC = 'out/f') AS
SELECT sensor, c_to_f(celsius) AS f, comfort(celsius) AS comfort
FROM temps WHERE c_to_f(celsius) > 50;

-- In a window: as an aggregate's argument, and over an aggregate's result.
CREATE RULE per_minute WITH (TOPIC = 'out/per_minute') AS
SELECT sensor, max(c_to_f(celsius)) AS max_f, round(c_to_f(avg(celsius)), 1) AS avg_f
FROM temps GROUP BY sensor, TumblingWindow('1m') ORDER BY sensor;
