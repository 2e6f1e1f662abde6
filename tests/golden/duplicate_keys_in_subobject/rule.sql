-- Issue 16 item 7: a selected sub-object with a repeated key is output with its first value only.
CREATE STREAM s WITH (TOPIC = 'test/+/in', FORMAT = 'json');
CREATE RULE r WITH (TOPIC = 'out/r') AS
SELECT meta, meta.a AS first_a FROM s;
CREATE RULE w WITH (TOPIC = 'out/w') AS
SELECT * FROM s WHERE k = 2;
