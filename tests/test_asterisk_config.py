"""``asterisk-config/`` as shipped: what Asterisk 22 refuses or retries must not be in it, and the
dialplan hands the agents' feature codes to the FastAGI server."""

from __future__ import annotations

import ipaddress
import re

from dispatcher.fake_asterisk import dialplan as dp
from dispatcher.fake_asterisk.config_files import asterisk_config_dir
from ivr.menu import load_menu


def sections(name: str) -> list[tuple[str, dict[str, str]]]:
    """(section name, key -> value) of an Asterisk .conf file, comments dropped."""
    out: list[tuple[str, dict[str, str]]] = []
    for raw in (asterisk_config_dir() / name).read_text(encoding="utf-8").splitlines():
        line = raw.split(";", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^\[([^\]]+)\]", line)
        if m:
            out.append((m.group(1), {}))
        elif "=" in line and out:
            key, _, value = line.partition("=")
            out[-1][1][key.strip()] = value.strip()
    return out


def test_pjsip_loads_as_shipped() -> None:
    found = sections("pjsip.conf")
    identify = [values for _name, values in found if values.get("type") == "identify"]
    assert identify
    for values in identify:
        for address in values["match"].split(","):
            ipaddress.ip_network(address.strip(), strict=False)  # no host name that must resolve at load
    assert not [n for n, v in found if v.get("type") == "registration"]  # outbound registration off
    phones = [v for n, v in found if n == "agent-phone"]
    assert phones and phones[0].get("language") == "fr"


def test_the_feature_codes_reach_the_fastagi_server() -> None:
    plan = dp.load()
    codes = load_menu().agents
    url = plan.globals["GUICHET_AGENT_AGI"]
    assert url.startswith("agi://") and url.endswith("/agent")
    for dialled in (codes.ready, codes.logout, codes.pause, codes.pause + "2"):
        ext = plan.find("from-agents", dialled)
        assert ext is not None, dialled
        apps = [step.app for _p, step in sorted(ext.steps.items())]
        assert apps == ["Answer", "AGI", "Hangup"]
        assert ext.steps[2].args == "${GUICHET_AGENT_AGI}"


def test_the_files_asterisk_cannot_find_are_tried_not_required() -> None:
    for name in ("manager.conf", "pjsip.conf"):
        text = (asterisk_config_dir() / name).read_text(encoding="utf-8")
        assert "#include" not in text  # a missing #include'd file makes Asterisk refuse the whole file
        assert "#tryinclude" in text
