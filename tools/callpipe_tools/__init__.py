"""Tools that stand above the runtime: local infrastructure launchers (``local``), synthetic data
(``synthetic.calls``: spoken calls; ``synthetic.analyses``: analysed-call records), test harnesses
(``testing``), example events (``examples``) and training scripts (``training``).

They import the shared package and the services; nothing in the runtime imports them (an
import-linter contract in pyproject.toml), and the service images do not install them.
"""
