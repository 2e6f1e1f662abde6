@include ../../../etc/examples/pattern_window_boundary.sql
