@include ../../../etc/examples/pattern_rising_5.sql
