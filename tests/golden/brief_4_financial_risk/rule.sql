@include ../../../etc/rules.d/40-financial-risk.sql
