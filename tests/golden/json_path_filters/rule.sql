-- Issue 16, item 4: JSONPath filters [? ...] in the json path functions (eKuiper's documented
-- examples first, then && || ! and existence tests). A computed path outside the subset: NULL.
CREATE STREAM demo WITH (TOPIC = 'demo/+/in', FORMAT = 'json');
CREATE RULE doc WITH (TOPIC = 'out/doc') AS
SELECT json_path_query(followers, '$.Group1[? @.age>30].last') AS last,
       json_path_exists(followers, '$.Group1[? @.age>30]') AS has,
       json_path_exists(followers, '$.Group2[? @.age>50]') AS has_not
FROM demo;
CREATE RULE logic WITH (TOPIC = 'out/logic') AS
SELECT json_path_query(friends, '$[?(@.age > 40 && @.last == ''Murphy'')].first') AS and_,
       json_path_query(friends, '$[? @.last != "Murphy" || @.age < 45].first') AS or_,
       json_path_query(ops, '$[? !@.variadic].numArgs') AS not_,
       json_path_query_first(ops, '$[? @.variadic == true]') AS flag,
       json_path_query(followers, '$.*[? @.age == 33].first') AS same_age,
       json_path_query(children, '$[? @ == ''Alex'']') AS self,
       json_path_query(followers, '$.Group1[? @.nope > 1]') AS none_match,
       json_path_query(followers, '$' || '..last') AS computed
FROM demo;
