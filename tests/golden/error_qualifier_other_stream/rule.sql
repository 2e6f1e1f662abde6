CREATE STREAM demo WITH (TOPIC = 'demo/+/in', FORMAT = 'json');
CREATE STREAM other WITH (TOPIC = 'other/+/in', FORMAT = 'json');
CREATE RULE r WITH (TOPIC = 'out/r') AS SELECT age, other.age AS a FROM demo;
