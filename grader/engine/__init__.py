"""The engine: a sandbox per submission (sandbox/), a kernel in it with every channel
bounded (kernel), and the notebook run with time and output limits (execute). It knows
no tests, no labs and no kits."""
