@include ../../../etc/rules.d/10-sales.sql
