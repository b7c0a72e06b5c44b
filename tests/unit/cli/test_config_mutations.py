"""A seeded, bounded mutation test of configs through the CLI (issue 12).

Each shipped example is mutated byte- and line-wise (lines deleted, duplicated, swapped,
re-indented; control characters, NUL and invalid UTF-8 inserted; the file truncated) and
checked with `configurable-agents validate`: every mutant exits 0 (still valid) or 2 (with
located problems), never a traceback. Most mutants go through the CLI's entry point in this
process (fast); a sample goes through the real console command.
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path

import pytest

from configurable_agents.cli import main

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
SEED = 12
MUTANTS = 300
IN_SUBPROCESS = 8
CONTROL = [bytes([c]) for c in [*range(0, 9), 11, 12, *range(14, 32), 127]]
C1 = [chr(c).encode() for c in range(0x80, 0xA0)]  # C1 controls, UTF-8 encoded
BAD_UTF8 = [b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe2\x82", b"\x80", b"\xf8\x88\x80\x80\x80"]


def mutate(text: bytes, rng: random.Random) -> tuple[str, bytes]:
    """One mutation of a config's bytes: its name and the result."""
    lines = text.split(b"\n")
    at = rng.randrange(len(text) + 1)
    row = rng.randrange(len(lines))
    kind = rng.choice(
        [
            "delete-line",
            "duplicate-line",
            "swap-lines",
            "indent",
            "dedent",
            "tab-indent",
            "control",
            "c1",
            "nul",
            "bad-utf8",
            "truncate",
            "delete-bytes",
        ]
    )
    if kind == "delete-line":
        del lines[row]
    elif kind == "duplicate-line":
        lines.insert(row, lines[row])
    elif kind == "swap-lines":
        other = rng.randrange(len(lines))
        lines[row], lines[other] = lines[other], lines[row]
    elif kind == "indent":
        lines[row] = b"  " * rng.randint(1, 3) + lines[row]
    elif kind == "dedent":
        lines[row] = lines[row].lstrip(b" ")
    elif kind == "tab-indent":
        stripped = lines[row].lstrip(b" ")
        lines[row] = b"\t" * ((len(lines[row]) - len(stripped)) // 2 or 1) + stripped
    else:
        insert = {
            "control": lambda: rng.choice(CONTROL),
            "c1": lambda: rng.choice(C1),
            "nul": lambda: b"\x00",
            "bad-utf8": lambda: rng.choice(BAD_UTF8),
            "truncate": lambda: None,
            "delete-bytes": lambda: None,
        }[kind]()
        if kind == "truncate":
            return kind, text[:at]
        if kind == "delete-bytes":
            return kind, text[:at] + text[at + rng.randint(1, 40) :]
        assert insert is not None
        return kind, text[:at] + insert + text[at:]
    return kind, b"\n".join(lines)


def mutants(tmp_path: Path) -> list[tuple[str, Path]]:
    """MUTANTS files, the same ones on every run (seeded); 1-3 mutations each."""
    rng = random.Random(SEED)
    made: list[tuple[str, Path]] = []
    for index in range(MUTANTS):
        source = rng.choice(EXAMPLES)
        data, kinds = source.read_bytes(), []
        for _ in range(rng.randint(1, 3)):
            kind, data = mutate(data, rng)
            kinds.append(kind)
        path = tmp_path / f"mutant-{index:03d}.yaml"
        path.write_bytes(data)
        made.append((f"{source.name} {'+'.join(kinds)}", path))
    return made


def validate_here(path: Path) -> tuple[int, str, str]:
    """`configurable-agents validate PATH` through the CLI's entry point, in this process."""
    out, err = io.StringIO(), io.StringIO()
    with redirect_stdout(out), redirect_stderr(err):
        code = main(["validate", str(path)])
    return code, out.getvalue(), err.getvalue()


def test_every_mutant_exits_0_or_2_without_a_traceback(tmp_path: Path) -> None:
    assert len(EXAMPLES) >= 5
    bad: list[str] = []
    invalid = 0
    for label, path in mutants(tmp_path):
        try:
            code, out, err = validate_here(path)
        except Exception as error:  # a traceback: the finding
            bad.append(f"{label}: raised {type(error).__name__}: {error}")
            continue
        if code not in (0, 2) or "Traceback" in err:
            bad.append(f"{label}: exit {code}: {err[-300:]}")
        elif code == 2:
            invalid += 1
            # Every problem line names the file (and where the text is readable, line:col).
            assert all(line.startswith(str(path)) for line in err.splitlines() if line), err
        else:
            assert out.startswith("ok: "), out
    assert not bad, "\n".join(bad)
    assert invalid > MUTANTS // 3  # the mutations really break configs


def test_mutants_through_the_console_command(tmp_path: Path) -> None:
    """A sample through the real process: exit 0 or 2, no traceback on stderr."""
    sample = mutants(tmp_path)
    rng = random.Random(SEED)
    for label, path in rng.sample(sample, IN_SUBPROCESS):
        done = subprocess.run(
            [sys.executable, "-m", "configurable_agents", "validate", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        assert done.returncode in (0, 2), f"{label}: {done.stderr}"
        assert "Traceback" not in done.stderr, f"{label}: {done.stderr}"


@pytest.mark.parametrize("kind", ["nul", "not-utf8", "directory", "missing", "no-permission"])
def test_validate_exits_2_with_the_location_for_every_unreadable_file(
    tmp_path: Path, kind: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "workflow.yaml"
    example = (ROOT / "examples" / "summarize.yaml").read_bytes()
    if kind == "nul":
        path.write_bytes(example.replace(b"\n", b"\n\x00", 1))
        expected = f"{path}:2:1: a NUL character"
    elif kind == "not-utf8":
        path.write_bytes(example.replace(b"\n", b"\nab\xff", 1))
        expected = f"{path}:2:3: the file is not UTF-8 text"
    elif kind == "directory":
        path.mkdir()
        expected = f"{path}: cannot read the file: Is a directory"
    elif kind == "missing":
        expected = f"{path}: cannot read the file: No such file"
    else:
        path.write_bytes(example)
        path.chmod(0)
        expected = f"{path}: cannot read the file: Permission denied"
    if kind == "no-permission" and os.geteuid() == 0:
        # Root reads any file: refuse the read as the kernel would for anyone else.
        def denied(self: Path) -> bytes:
            raise PermissionError(13, "Permission denied", str(self))

        monkeypatch.setattr(Path, "read_bytes", denied)
        code, _, err = validate_here(path)
    else:
        done = subprocess.run(
            [sys.executable, "-m", "configurable_agents", "validate", str(path)],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
        )
        code, err = done.returncode, done.stderr
    assert code == 2, err
    assert "Traceback" not in err
    assert err.startswith(expected), err
