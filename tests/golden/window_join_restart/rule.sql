@include ../window_join_tumbling/rule.sql
