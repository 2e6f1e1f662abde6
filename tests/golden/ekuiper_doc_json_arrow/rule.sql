-- eKuiper docs, "JSON Expressions": the `->` member access (`name->first`), the same as
-- `name.first` or name['first'] here; chained, mixed with [] and on a quoted name.
CREATE STREAM demo WITH (TOPIC = 'demo/+/in', FORMAT = 'json');
CREATE RULE arrow WITH (TOPIC = 'out/arrow') AS SELECT name->first AS fname FROM demo;
CREATE RULE chain WITH (TOPIC = 'out/chain') AS
SELECT ops->functionA->numArgs AS num, followers->Group1[1]->first AS g1, friends[0]->last,
       name->"last" AS lname, name->missing AS nothing
FROM demo WHERE ops->functionC->variadic = true;
-- `->` never names a stream: demo->x is the field demo's member x (no such field here: NULL).
CREATE RULE not_stream WITH (TOPIC = 'out/not_stream') AS SELECT demo->age AS a, age FROM demo;
