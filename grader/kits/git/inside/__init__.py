"""Code of the git kit that runs outside the grader: in the notebook's kernel, or in a fresh sandbox.

- :mod:`.pack` runs in the notebook's kernel (its source is sent there and run in a namespace of
  its own): it packs the repository's folder into an uncompressed tar, within bounds. Whatever it
  answers is the student's: the grader checks the answer's type and size again and never unpacks
  it on the host.
- :mod:`.read` runs in a fresh sandbox of the kernel's own backend that holds only that tar:
  ``python -s -P -m grader.kits.git.inside.read SHARED TAR SETTINGS``. It unpacks the tar there
  (tarfile's "data" filter, bounded), and asks the real ``git`` CLI, with the student's
  configuration set aside, what the repository holds; it writes one JSON document into SHARED.

Both import only the standard library: what runs with them is the package's ``__init__`` files,
which stay light for that reason.
"""
