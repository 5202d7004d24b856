# Two entry points for a fresh Debian/Ubuntu machine: `make run` (install and start the app)
# and `make test` (install and run the test suite). Both create .venv and reuse it afterwards.
PYTHON ?= python3
VENV ?= .venv
APT_PACKAGES = ffmpeg libsndfile1 libportaudio2 libxkbcommon-x11-0 libxcb-cursor0 libegl1 libgl1 \
               libfontconfig1 libdbus-1-3 libxcb-icccm4 libxcb-keysyms1 libxcb-shape0 libxcb-xinerama0 \
               libxcb-randr0 libxcb-render-util0 libxcb-image0
# sox and espeak-ng also synthesise the benchmarks' room noise (resources/make_noise_pack.py,
# benchmarks/room_noise.py); ffmpeg (above) renders fb-music-high's tracker module for them.
TEST_APT_PACKAGES = pulseaudio pulseaudio-utils xvfb sox espeak-ng chromium chromium-driver

.PHONY: run test system-deps test-system-deps venv

run: system-deps venv
	$(VENV)/bin/musicid-gui

test: system-deps test-system-deps venv
	$(VENV)/bin/pip install -q -e '.[test]'
	$(VENV)/bin/python -m pytest -q

system-deps:
	@if command -v apt-get >/dev/null 2>&1 && ! dpkg -s $(APT_PACKAGES) >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(APT_PACKAGES); \
	fi

test-system-deps:
	@if command -v apt-get >/dev/null 2>&1 && ! dpkg -s $(TEST_APT_PACKAGES) >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $(TEST_APT_PACKAGES); \
	fi

venv: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -e .
	touch $@
