"""History in SQL: contacts, their event trace, agents, citizens, callbacks; statistics and purge."""
