"""Legal process and legal holds: preservation, retention and disclosure to law enforcement."""
