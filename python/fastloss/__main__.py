"""``python -m fastloss``: show the build and runtime configuration."""

from fastloss import show_config

show_config()
