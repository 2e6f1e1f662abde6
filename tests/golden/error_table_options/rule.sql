CREATE TABLE a (id, name) WITH (TYPE = 'file', PATH = 'x.csv', KEY = 'ident');
CREATE TABLE b (id, name) WITH (TYPE = 'file', PATH = 'x.txt', KEY = 'id');
CREATE TABLE c (id NUMBERISH) WITH (TYPE = 'file', PATH = 'x.csv', KEY = 'id');
CREATE TABLE d (id) WITH (TYPE = 'ftp', KEY = 'id');
CREATE TABLE e (id) WITH (TYPE = 'file', PATH = 'x.csv');
