# Two commands do everything: `make demo` and `make test`.
# Both create .venv, install the grader and the system packages its sandbox needs.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test bench image system clean

demo: $(STAMP)
	cd examples/course && ../../$(BIN)/grade submissions/ --out grades

test: $(STAMP)
	$(BIN)/ruff check grader
	$(BIN)/python -m pytest

# The Docker backend's kernel image, built offline (needs a running dockerd and debootstrap).
image: $(STAMP)
	$(BIN)/grade image build

bench: $(STAMP)
	$(BIN)/python benchmarks/grade_vs_nbclient.py
	$(BIN)/python benchmarks/docker_vs_bwrap.py
	$(BIN)/python benchmarks/deployment_layers.py
	$(BIN)/python benchmarks/flood_memory.py
	$(BIN)/python benchmarks/feedback_growth.py
	$(BIN)/python benchmarks/fake_vs_sandbox.py
	$(BIN)/python benchmarks/solution_check.py
	$(BIN)/python benchmarks/scale.py
	$(BIN)/python benchmarks/outside_probes.py
	$(BIN)/python benchmarks/kit_services.py
	$(BIN)/python benchmarks/similarity.py
	$(BIN)/python benchmarks/submission_times.py

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory system
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[all]"
	touch $(STAMP)

# The default sandbox needs bubblewrap (and util-linux's prlimit and setpriv); the feedback tests, chromium
# (and chromium-driver for grade review's browser test);
# the SSH cluster recipe's test, an sshd it starts on loopback (openssh-server); 00-python-git's kernel, git.
system:
	@if command -v bwrap >/dev/null && command -v prlimit >/dev/null && command -v setpriv >/dev/null \
			&& command -v chromium >/dev/null && command -v chromedriver >/dev/null \
			&& [ -x /usr/sbin/sshd ] && command -v git >/dev/null; then \
		:; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap util-linux chromium \
			chromium-driver openssh-server git >/dev/null; \
	else \
		echo "note: install bubblewrap and git for the sandbox, chromium, chromium-driver and openssh-server for" \
			"the tests (sudo apt-get install bubblewrap git chromium chromium-driver openssh-server)"; \
	fi

clean:
	rm -rf $(VENV) examples/course/grades
