# Stands in for the journal when its partition is unavailable (Supervisor(None)): the
# board still runs and goes safe, it just cannot remember anything across a power loss.
# A module of its own: a board with a journal never loads it.
from hearth.runtime.journal import KIND_STATE, JournalError


class NoJournal:
    # Stands in when the journal partition is unavailable: the board still runs and
    # goes safe, it just cannot remember anything across a power loss.
    status = "none"
    writable = False
    formatted = False
    snap_size = 64
    pf_seq = 0

    def __init__(self):
        self.pf_payload = memoryview(bytearray(self.snap_size))

    def mount(self):
        return {"status": "none"}

    def latest(self, kind):
        return None

    def read(self, kind):
        return None

    def prepare_powerfail(self):
        return False

    def format(self, power_ok, max_erases=0):
        return 0

    def commit_powerfail(self, data=None):
        return False

    def checkpoint(self, kind=KIND_STATE):
        raise JournalError("NOT_WRITABLE", "no journal")

    def append(self, kind, payload):
        raise JournalError("NOT_WRITABLE", "no journal")
