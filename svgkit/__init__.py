"""svgkit: the library behind the SVG-drawing RFT tutorial.

Modules, one concern each:

- :mod:`svgkit.config`   model ids, URLs, prices, limits, offline/live mode
- :mod:`svgkit.dataset`  SVGBench download, bundled data, Eval Protocol rows, splits
- :mod:`svgkit.stats`    dataset statistics and prompt categories
- :mod:`svgkit.plots`    figures and galleries for notebooks
- :mod:`svgkit.runner`   runs the notebook series (``make tutorial``)
"""

__version__ = "0.1.0"
