"""Write files/inbox.json: a morning's support emails about the orders of the grader's default
back office (the data the notebook reads when it runs top to bottom), two of them attacks.

A fixed seed makes the file the same on every run: ``python solutions/08-ai-automation/make_inbox.py``.
The generator is ``tests/inbox.py``, which the hidden tests draw other inboxes from.
"""

import json
import random
import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE / "tests"))

from inbox import inbox  # noqa: E402

from grader.kits.api.data import default_collections  # noqa: E402

SEED = 20261207


def main() -> None:
    emails = inbox(random.Random(SEED), default_collections()["orders"])
    (HERE / "files" / "inbox.json").write_text(json.dumps(emails, indent=2) + "\n")


if __name__ == "__main__":
    main()
