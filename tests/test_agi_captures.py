"""The fake Asterisk's FastAGI side against the real captures: a script replays the commands
Asterisk received and gets the very replies Asterisk sent (missing prompt, hang-up in GET DATA)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from dispatcher.fake_asterisk import FakeAsterisk, wait_until

CAPTURES = Path(__file__).resolve().parent / "data" / "fastagi"


def exchange(name: str) -> tuple[list[str], list[tuple[str, list[str]]]]:
    """The capture's agi_ block keys, then each command with the lines Asterisk sent after it."""
    text = (CAPTURES / name).read_text(encoding="utf-8")
    blocks: list[tuple[str, list[str]]] = []
    direction = ""
    for line in text.split("\n"):
        if line in (">>> from Asterisk", "<<< to Asterisk"):
            direction = line[:3]
            continue
        if direction == "<<<" and line:
            blocks.append((line, []))
        elif direction == ">>>" and line:
            if blocks:
                blocks[-1][1].append(line)
            else:
                blocks.append(("", [line]))
    env = [line.split(":")[0] for line in blocks[0][1]]
    return env, blocks[1:]


class Script:
    """A FastAGI server that sends the captured commands and records what comes back."""

    def __init__(self, commands: list[str]) -> None:
        self.commands = commands
        self.env: list[str] = []
        self.replies: list[list[str]] = []
        self.eof_seen = False
        self.before_command: dict[int, object] = {}
        self.release = asyncio.Event()
        self.done = asyncio.Event()

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while (line := (await reader.readline()).decode().rstrip("\n")) != "":
            self.env.append(line.split(":")[0])
        for i, command in enumerate(self.commands):
            hook = self.before_command.get(i)
            if hook is not None:
                await hook()  # type: ignore[operator]
            writer.write((command + "\n").encode())
            await writer.drain()
            got = [(await reader.readline()).decode().rstrip("\n")]
            # A separate HANGUP line may follow the reply (read it if it comes within 0.3 s).
            try:
                extra = await asyncio.wait_for(reader.readline(), 0.3)
                if extra:
                    got.append(extra.decode().rstrip("\n"))
            except TimeoutError:
                pass
            self.replies.append(got)
        try:
            self.eof_seen = await asyncio.wait_for(reader.read(), 0.5) == b""
        except TimeoutError:
            self.eof_seen = False  # Asterisk keeps the socket open
        await self.release.wait()
        writer.close()
        self.done.set()


async def _run(name: str, tmp_path: Path, **hooks: object) -> tuple[Script, list[tuple[str, list[str]]], FakeAsterisk, object, list[str]]:
    env, blocks = exchange(name)
    script = Script([c for c, _ in blocks])
    server = await asyncio.start_server(script.serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    fake = FakeAsterisk(secrets={"guichet": "x"}, agi_address=("127.0.0.1", port), sounds_dir=tmp_path, time_scale=1.0)
    await fake.start()
    call = fake.place_call("061201", "Citoyen 1", exten="0100000000")
    return script, blocks, fake, call, env


async def test_a_missing_prompt_answers_as_asterisk_does(tmp_path: Path) -> None:
    script, blocks, fake, call, env = await _run("fastagi-missing-prompt.txt", tmp_path)
    try:
        await wait_until(lambda: len(script.replies) == len(blocks), timeout=10)
        assert script.env == env
        assert script.replies == [replies for _, replies in blocks]
        assert not script.eof_seen
        assert fake.channel(call) is not None  # still up
    finally:
        script.release.set()
        await asyncio.wait_for(script.done.wait(), 5)
        await fake.stop()


async def test_a_hangup_during_get_data_answers_as_asterisk_does(tmp_path: Path) -> None:
    env, blocks = exchange("fastagi-hangup-during-get-data.txt")
    script = Script([c for c, _ in blocks])
    server = await asyncio.start_server(script.serve, "127.0.0.1", 0)
    fake = FakeAsterisk(
        secrets={"guichet": "x"}, agi_address=("127.0.0.1", server.sockets[0].getsockname()[1]),
        sounds_dir=tmp_path, time_scale=1.0, record=True,
    )
    await fake.start()
    try:
        call = fake.place_call("061201", "Citoyen 1", exten="0100000000")
        await wait_until(lambda: len(script.replies) == 1, timeout=10)  # ANSWER
        # The caller hangs up 0.3 s into the 15 s GET DATA.
        loop = asyncio.get_running_loop()
        loop.call_later(0.3, fake.hangup, call)
        await wait_until(lambda: len(script.replies) == len(blocks), timeout=10)
        assert script.env == env
        assert script.replies == [replies for _, replies in blocks]
        assert not script.eof_seen  # Asterisk keeps the connection open
        hangups = [f for f in fake.frames if f.startswith(b"Event: Hangup\r\n") and call.uniqueid.encode() in f]
        assert hangups == []  # the channel lasts until the script closes
        script.release.set()
        await script.done.wait()
        await wait_until(lambda: any(f.startswith(b"Event: Hangup\r\n") and call.uniqueid.encode() in f for f in fake.frames))
    finally:
        script.release.set()
        await fake.stop()
        server.close()
