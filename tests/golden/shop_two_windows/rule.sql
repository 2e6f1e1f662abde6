@include ../../../etc/rules.d/10-sales.sql
@include ../../../etc/rules.d/20-user-behavior.sql
@include ../../../etc/rules.d/60-analysis-result.sql
