@include ../../../etc/examples/pattern_out_of_order.sql
