# Every latch-esp32 safe output at its level after every safe() path (issue 12,
# defect 8): see safe_outputs_check.py.
from safe_outputs_check import check_board


def test_latch_every_safe_output_after_every_safe_path():
    check_board("latch-esp32")
