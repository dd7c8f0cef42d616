"""On-device personalization: rank a page's variants for one visitor and learn from them.

Standard library only, so the same code runs in CPython and in Pyodide in the browser.
"""

from edge.engine import Config, Decision, Personalizer

__all__ = ["Config", "Decision", "Personalizer"]
