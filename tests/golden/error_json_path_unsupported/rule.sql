CREATE STREAM demo WITH (TOPIC = 'demo/+/in', FORMAT = 'json');
CREATE RULE descent WITH (TOPIC = 'out/a') AS SELECT json_path_query(followers, '$..last') AS l FROM demo;
CREATE RULE slice WITH (TOPIC = 'out/b') AS SELECT json_path_query(children, '$[0:2]') AS l FROM demo;
CREATE RULE single_eq WITH (TOPIC = 'out/c') AS SELECT json_path_exists(followers, '$.Group1[? @.age = 30]') AS l FROM demo;
CREATE RULE regex WITH (TOPIC = 'out/d') AS SELECT json_path(friends, '$[? @.last =~ /Mur.*/].first') AS l FROM demo;
