@include ../../../etc/examples/alert_chained.sql
