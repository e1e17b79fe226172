"""The counter channel: sites, tickets, waiting-room calls, counter desks, estimated waits."""
