"""The command line's top-level grammar."""

from ldirectorpy import __version__
from ldirectorpy.cli import main


def test_version_prints_the_package_version(capsys):
    assert main(["-v"]) == 0
    assert capsys.readouterr().out == f"ldirectorpy {__version__}\n"


def test_help_prints_usage(capsys):
    assert main(["--help"]) == 0
    assert "usage:" in capsys.readouterr().out


def test_no_arguments_is_a_usage_error(capsys):
    assert main([]) == 255
