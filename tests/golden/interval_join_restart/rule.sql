@include ../interval_join_clicks/rule.sql
