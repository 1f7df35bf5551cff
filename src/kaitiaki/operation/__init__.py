"""An operation: from a provider's records, accounts and catalog to attributed subjects.

The stages run one way: ingest (``kaitiaki.records``) -> flag the catalog against hash sets
(``flag``) -> flagged accounts (``kaitiaki.engines``) -> geolocate their addresses
(``kaitiaki.geo``) -> resolve subjects and attribute them (``kaitiaki.accounts``) -> route each
to an agency. ``analyse`` runs them in order.
"""
