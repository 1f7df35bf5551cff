"""kaitiaki: hash, match, attribute and refer online child sexual exploitation material.

The package is laid out as the pipeline: ``signals`` and ``content`` hash files, ``hashsets``
and ``index`` match them, ``scan`` runs both over evidence, ``store`` keeps the records.
"""

__version__ = "0.1.0"
