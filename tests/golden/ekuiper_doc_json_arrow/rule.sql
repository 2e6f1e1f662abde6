-- eKuiper docs, "JSON Expressions": the `->` member access and a source alias. Not parsed here;
-- refused with the position (write `name.first`).
CREATE STREAM demo WITH (TOPIC = 'demo/+/in', FORMAT = 'json');
CREATE RULE arrow WITH (TOPIC = 'out/arrow') AS SELECT name->first AS fname FROM demo;
