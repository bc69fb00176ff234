"""maintenancedir: ldirectord's file names, resolved once, checked cheaply."""

from ldirectorpy.daemon.maintenance import Maintenance, candidates


def test_file_names_are_tried_in_ldirectords_order():
    assert candidates("192.0.2.11", 3389, "ts1.example.org") == [
        "192.0.2.11:3389",
        "192.0.2.11",
        "ts1.example.org:3389",
        "ts1.example.org",
        "ts1:3389",
        "ts1",
    ]


def test_ipv6_names_use_brackets():
    assert candidates("2001:db8::11", 3389, None) == ["[2001:db8::11]:3389", "[2001:db8::11]"]


def test_any_matching_file_puts_the_real_in_maintenance(tmp_path):
    maintenance = Maintenance(str(tmp_path), {"192.0.2.11": "ts1.example.org"})
    assert not maintenance.in_maintenance("192.0.2.11", 3389)
    (tmp_path / "ts1").touch()
    assert maintenance.in_maintenance("192.0.2.11", 3389)
    assert not maintenance.in_maintenance("192.0.2.12", 3389)
    (tmp_path / "ts1").unlink()
    (tmp_path / "192.0.2.12:3389").touch()
    assert maintenance.in_maintenance("192.0.2.12", 3389)
    assert not maintenance.in_maintenance("192.0.2.12", 80)


def test_without_a_directory_nothing_is_in_maintenance():
    assert not Maintenance(None).in_maintenance("192.0.2.11", 3389)
