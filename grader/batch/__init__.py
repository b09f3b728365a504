"""A batch: every submission graded once (run), a result reused while its fingerprint
holds (fingerprint), each job in a watched worker process of its own (executors)."""
