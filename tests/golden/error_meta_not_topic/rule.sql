CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json');
CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT meta(qos) AS q FROM s;
