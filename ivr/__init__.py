"""The FastAGI IVR of the phone channel: YAML menus, caller identification, handoff to the queue."""
