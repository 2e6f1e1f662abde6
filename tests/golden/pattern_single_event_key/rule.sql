@include ../../../etc/examples/pattern_single_event_key.sql
