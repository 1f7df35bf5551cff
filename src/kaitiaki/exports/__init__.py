"""What every file kaitiaki writes for people and partners shares (CSV cells safe to open)."""
