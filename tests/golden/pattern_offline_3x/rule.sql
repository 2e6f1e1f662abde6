@include ../../../etc/examples/pattern_offline_3x.sql
