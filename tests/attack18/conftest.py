"""The hostile org and a directory on both backends, as the attack16 tests have them."""

from tests.attack16.test_changed_part_hostile_ids import directory, org

__all__ = ["directory", "org"]
