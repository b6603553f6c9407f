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

def square_in_worker(x, log=print):
    "A job for map_in_processes' tests (importable by a spawned worker): x * x, the process that ran it, its threads; x < 0 fails."
    import os, torch
    from a2lit.core import A2Error
    if x < 0: raise A2Error(f"bad job {x}")
    log(f"job {x}")
    return x * x, os.getpid(), torch.get_num_threads()
