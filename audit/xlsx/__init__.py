"""Excel in and out: the register's columns, the audit report, the import template, and the
import of an inventory, whose uploads are read by a worker process with hard limits
(``reader`` starts ``worker``; ``uploads`` keeps them until confirmed). Uses the domain's
functions, never its own SQL for the same thing."""
