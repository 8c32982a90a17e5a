"""The synthesis process itself: shortcuts that keep it fast and the guard
of its output folder. Beside main.py, not configuration or constructs."""
