"What several test files share: the a2lit command called in-process, checked to fail the way a user error must."
import pytest
import a2lit.cli as a2cli

def cli(capsys, *args, rc=2, prefix='a2lit: error:'):
    "Call the CLI in-process; return its one stderr line after checking the exit code, the line's start and that there is no traceback."
    with pytest.raises(SystemExit) as e: a2cli.main([str(a) for a in args])
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert e.value.code == rc, (e.value.code, err)
    assert len(lines) == 1 and lines[0].startswith(prefix) and 'Traceback' not in err, err
    return lines[0]
