"""A protocol-faithful fake Asterisk: AMI server, FastAGI client, channels and dialplan.

The tests' PBX and the embedded default's simulated town hall. See ``server.FakeAsterisk``.
"""

from dispatcher.fake_asterisk.pbx import AgentPhone, CallScript, Chan
from dispatcher.fake_asterisk.server import FakeAsterisk, wait_until

__all__ = ["AgentPhone", "CallScript", "Chan", "FakeAsterisk", "wait_until"]
