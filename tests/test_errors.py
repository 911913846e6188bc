"""The one error path: which failures are expected, and how geokd prints them."""

import argparse
import errno
import sys
import types

import pytest
from lightning.fabric.utilities.exceptions import MisconfigurationException

from geokd import main as geokd_main
from geokd.errors import (
    EXIT_FAILURE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CommandParser,
    DataError,
    GeokdError,
    Interrupted,
    OptionError,
    PredictError,
    UsageError,
    argument_error_message,
    expected_failure,
    int_at_least,
    one_line,
    os_error_message,
)


def _chained(outer: Exception, inner: Exception) -> Exception:
    try:
        try:
            raise inner
        except Exception as err:
            raise outer from err
    except Exception as err:
        return err


@pytest.mark.parametrize(
    ('err', 'message', 'code'),
    [
        (GeokdError('a.ckpt: broken'), 'a.ckpt: broken', 1),
        (DataError('x.png: truncated'), 'x.png: truncated', 1),
        (UsageError('batch_size: 0'), 'batch_size: 0', 2),
        (KeyboardInterrupt(), 'interrupted', 130),
        (argparse.ArgumentError(None, 'unrecognized arguments: --x'), '--x', 2),
        (MisconfigurationException('no CUDA'), 'no CUDA', 2),
        (MemoryError(), 'reduce the batch size', 1),
        (
            OSError(errno.ENOSPC, 'No space left on device', 'out/a.tif'),
            'out/a.tif: No space left on device (free some space',
            1,
        ),
        (
            # jsonargparse reports a failing __init__ as a ValueError of its own.
            _chained(ValueError('Does not validate'), UsageError('size: 0')),
            'size: 0',
            2,
        ),
    ],
)
def test_expected_failures(err: BaseException, message: str, code: int) -> None:
    expected = expected_failure(err)
    assert expected is not None
    assert message in expected[0]
    assert '\n' not in expected[0]
    assert expected[1] == code


@pytest.mark.parametrize(
    'err', [ValueError('x'), IndexError('Target 2 is out of bounds'), RuntimeError()]
)
def test_other_exceptions_are_bugs(err: BaseException) -> None:
    assert expected_failure(err) is None


def test_one_line_unwraps_dataloader_workers() -> None:
    text = (
        'Caught DataError in DataLoader worker process 0.\n'
        'Original Traceback (most recent call last):\n'
        '  File "folder.py", line 3, in _load\n'
        '    raise DataError(msg)\n'
        'geokd.errors.DataError: /d/x.png: cannot read image (truncated)\n'
    )
    assert one_line(text) == '/d/x.png: cannot read image (truncated)'


def test_argument_error_message_names_the_key() -> None:
    text = (
        'Parser key "model":\n'
        '  Does not validate against any of the Union subtypes\n'
        "  Subtypes: [<class 'torchgeo.tasks.base.BaseTask'>, <class 'NoneType'>]\n"
        '  Errors:\n'
        "    - Problem with given class_path 'geokd.tasks.DisCoMKDTask':\n"
        '        Parser key "num_classes":\n'
        "          Expected a <class 'int'>. Got value: ten\n"
        "    - Expected a <class 'NoneType'>\n"
        "  Given value type: <class 'jsonargparse._util.NestedArg'>\n"
    )
    assert argument_error_message(text) == (
        'model.init_args.num_classes: expected int, got ten'
    )
    assert argument_error_message('unrecognized arguments: --x') == (
        'unrecognized arguments: --x'
    )


def test_os_error_message_without_a_file() -> None:
    assert os_error_message(OSError(errno.EACCES, 'Permission denied')) == (
        'Permission denied (check its permissions, or choose another path)'
    )


def test_command_parser_raises_usage_errors() -> None:
    parser = CommandParser(prog='geokd x')
    parser.add_argument('--n', type=int_at_least(1))
    with pytest.raises(
        UsageError, match=r"--n: must be an integer of at least 1, got '0'"
    ):
        parser.parse_args(['--n', '0'])
    with pytest.raises(UsageError, match=r'see geokd x --help'):
        parser.parse_args(['--bogus'])


def _command(monkeypatch: pytest.MonkeyPatch, err: BaseException) -> None:
    def run(argv: list[str]) -> None:
        raise err

    module = types.ModuleType('geokd_fake_command')
    module.run = run  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, 'geokd_fake_command', module)
    monkeypatch.setitem(geokd_main.COMMANDS, 'fake', ('geokd_fake_command:run', 'x'))
    monkeypatch.delenv('GEOKD_DEBUG', raising=False)


def test_expected_failure_is_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _command(monkeypatch, GeokdError('a.ckpt: broken (use another)'))
    with pytest.raises(SystemExit) as info:
        geokd_main.main(['fake'])
    assert info.value.code == 1
    assert (
        capsys.readouterr().err == 'geokd fake: error: a.ckpt: broken (use another)\n'
    )


def test_traceback_flag_and_debug_variable_show_the_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _command(monkeypatch, GeokdError('a.ckpt: broken'))
    with pytest.raises(GeokdError):
        geokd_main.main(['fake', '--traceback'])
    monkeypatch.setenv('GEOKD_DEBUG', '1')
    with pytest.raises(GeokdError):
        geokd_main.main(['fake'])


def test_a_bug_shows_its_traceback_and_asks_for_a_report(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _command(monkeypatch, IndexError('list index out of range'))
    with pytest.raises(SystemExit) as info:
        geokd_main.main(['fake'])
    assert info.value.code == 1
    err = capsys.readouterr().err
    assert 'Traceback (most recent call last)' in err
    assert 'geokd fake: internal error: IndexError: list index out of range' in err
    assert 'This is a bug in geokd' in err
    assert 'please report it' in err


def test_ctrl_c(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _command(monkeypatch, KeyboardInterrupt())
    with pytest.raises(SystemExit) as info:
        geokd_main.main(['fake'])
    assert info.value.code == 130
    assert capsys.readouterr().err == 'geokd fake: error: interrupted\n'


def test_prediction_errors_are_geokd_errors() -> None:
    assert issubclass(PredictError, GeokdError)
    assert issubclass(PredictError, ValueError)
    assert OptionError('x').exit_code == EXIT_USAGE
    assert Interrupted('x').exit_code == EXIT_INTERRUPTED
    assert expected_failure(PredictError('a.tif: no band B08')) == (
        'a.tif: no band B08',
        EXIT_FAILURE,
    )


def test_one_line_of_an_exception() -> None:
    assert one_line(ValueError('first\nsecond')) == 'first second'
    assert one_line(OSError()) == 'OSError'
