-- eKuiper docs, "JSON Expressions": the sample record and the documented SELECTs, one rule each,
-- as documented (stream qualifiers, `->`, the source alias) except array_slice() for slices and
-- single-quoted strings: see README.md. ekuiper_doc_json_arrow: more of `->`.
CREATE STREAM demo WITH (TOPIC = 'demo/+/in', FORMAT = 'json');
CREATE RULE age WITH (TOPIC = 'out/age') AS SELECT demo.age FROM demo;
CREATE RULE dot WITH (TOPIC = 'out/dot') AS SELECT demo.name->first FROM demo;
CREATE RULE alias_dot WITH (TOPIC = 'out/alias_dot') AS SELECT name.first AS fname FROM demo;
CREATE RULE nested WITH (TOPIC = 'out/nested') AS SELECT ops->functionA.numArgs AS num FROM demo;
CREATE RULE idx WITH (TOPIC = 'out/idx') AS
SELECT children[0] AS c0, children[1] AS c1, children[-1] AS c_1, children[-2] AS c_2 FROM demo;
CREATE RULE friend WITH (TOPIC = 'out/friend') AS SELECT d.friends[0]->last FROM demo AS d;
CREATE RULE slices WITH (TOPIC = 'out/slices') AS
SELECT array_slice(children, 1, 1) AS s01, array_slice(children, 2, -2) AS s1_1,
       array_slice(children, 1, -2) AS s0_1, children AS s_all, array_slice(children, 1, 2) AS s_2
FROM demo;
CREATE RULE path_query WITH (TOPIC = 'out/path_query') AS
SELECT json_path_query(followers, '$.Group1[*].last') AS last FROM demo;
CREATE RULE path_bracket WITH (TOPIC = 'out/path_bracket') AS
SELECT json_path_query_first(friends, '$[0][''last'']') AS last, "fav.movie" AS movie FROM demo;
CREATE RULE path_filter WITH (TOPIC = 'out/path_filter') AS
SELECT json_path_query(followers, '$.Group1[? @.age>30].last') AS last,
       json_path_exists(followers, '$.Group1[? @.age>30]') AS has
FROM demo;
