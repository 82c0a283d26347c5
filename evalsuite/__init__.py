"""evalsuite: evaluation suite for few-step distilled image generators."""

__version__ = "0.1.0"
