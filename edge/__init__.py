"""On-device personalization: rank a page's variants for one visitor and learn from them.

Standard library only, so the same code runs in CPython and in Pyodide in the browser.
"""

from edge.config import Config
from edge.engine import HOLDOUT, OFF, PERSONALIZED, Decision, Personalizer

__all__ = ["HOLDOUT", "OFF", "PERSONALIZED", "Config", "Decision", "Personalizer"]
