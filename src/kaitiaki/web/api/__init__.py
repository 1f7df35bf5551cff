"""The JSON API under ``/api``: one router per area; the pages call the same functions."""
