@include ../../../etc/rules.d/30-system-performance.sql
