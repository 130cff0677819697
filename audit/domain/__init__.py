"""The rules of the domain and all its SQL: the register and its fields, origins, figures,
review sessions, ballots and decisions, users, the organisation and the event log. Every
change is a function here that checks its input, writes in one transaction and records its
event; views, the command line, the importer and the demo call these. Uses ``audit.store`` and
``audit.core``, never the web layer or the workbooks."""
