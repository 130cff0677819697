"""The database: connections and transactions (``db``), the numbered migrations (``schema``)
and online backups (``backup``). Uses only ``audit.core``."""
