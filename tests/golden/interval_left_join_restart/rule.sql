@include ../interval_left_join/rule.sql
