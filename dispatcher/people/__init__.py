"""People who log in to the pages: accounts, roles, sessions, the audit log."""
